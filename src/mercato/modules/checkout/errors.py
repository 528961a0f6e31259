"""Checkout problems that belong to no other module."""

from __future__ import annotations

from mercato.kit.errors import ServiceUnavailable


class PaymentUnavailable(ServiceUnavailable):
    """The gateway failed for a reason that may pass (a retry with the same key is safe)."""

    code = "payment.processing_error"

    def __init__(self, detail: str = "The payment could not be processed just now; retry in a moment.") -> None:
        super().__init__(detail)
