"""Payment errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound, PaymentDeclined


class UnknownGateway(InvalidInput):
    code = "payment.unknown_gateway"
    title = "Unknown payment gateway"


class IdempotencyMismatch(InvalidInput):
    """The idempotency key was used before for another payment (other order, amount or currency)."""

    code = "payment.idempotency_mismatch"
    title = "Idempotency key reused"


class PaymentNotFound(NotFound):
    code = "payment.not_found"
    title = "Payment not found"


class NoActionRequired(Conflict):
    """Confirming a payment that is not waiting for the buyer's action."""

    code = "payment.no_action_required"
    title = "No payment action pending"


class Declined(PaymentDeclined):
    """For callers that turn a declined outcome into a 402 (the service itself never raises it)."""

    code = "payment.declined"

    def __init__(self, message: str, *, decline_code: str | None) -> None:
        errors = [FieldError("payment", decline_code, message)] if decline_code else []
        super().__init__(message, errors=errors)
        self.decline_code = decline_code
