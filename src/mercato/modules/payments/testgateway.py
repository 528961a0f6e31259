"""The built-in `test` gateway: an in-process simulation of a card processor, answering by the
token it is given (API.md):

| token                      | authorize                                                   |
|----------------------------|-------------------------------------------------------------|
| `tok_visa`                 | authorized                                                  |
| `tok_chargeDeclined`       | declined, `card_declined`                                   |
| `tok_insufficientFunds`    | declined, `insufficient_funds`                              |
| `tok_threeDSecureRequired` | requires_action, next_action `three_d_secure` (see confirm) |
| `tok_processingError`      | error `processing_error` (transient; every attempt fails)   |
| anything else              | declined, `invalid_token`                                   |

`confirm` of a 3-D Secure payment: `{"result": "approve"}` → authorized; anything else → declined
`authentication_failed`.

It is stateless and deterministic: the provider reference is derived from the idempotency key, so
a call repeated with the same key answers the same reference (the same charge, as a real
provider's idempotency would give), in any process. Capture, void and refund always succeed.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from mercato.modules.payments.gateway import (
    AuthorizeRequest,
    CaptureRequest,
    ConfirmRequest,
    GatewayResult,
    RefundRequest,
    VoidRequest,
)

THREE_DS_URL = "https://test-gateway.mercato.invalid/3ds/"

# What each test token does: approve, decline (with its code), 3-D Secure, transient error.
_BEHAVIOUR: dict[str, tuple[str, str | None, str | None]] = {
    "tok_visa": ("approve", None, None),
    "tok_chargeDeclined": ("decline", "card_declined", "The card was declined."),
    "tok_insufficientFunds": ("decline", "insufficient_funds", "The card has insufficient funds."),
    "tok_threeDSecureRequired": ("three_d_secure", None, "The card needs 3-D Secure authentication."),
    "tok_processingError": ("error", "processing_error",
                            "A transient processing error; retry with the same idempotency key."),
}
_UNKNOWN = ("decline", "invalid_token", "The payment token is not known to the test gateway.")


def reference_for(kind: str, idempotency_key: str) -> str:
    """The provider reference of an operation: the same key always names the same operation."""
    return f"tst_{kind}_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


class TestGateway:
    """The `test` gateway (see the module docstring)."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    name = "test"

    async def authorize(self, req: AuthorizeRequest) -> GatewayResult:
        behaviour, code, message = _BEHAVIOUR.get(req.token, _UNKNOWN)
        if req.token not in _BEHAVIOUR:
            return GatewayResult("declined", None, code, message,
                                 raw={"object": "error", "type": "invalid_request", "decline_code": code})
        if behaviour == "error":
            return GatewayResult("error", None, code, message, raw={"object": "error", "type": code})
        ref = reference_for("auth", req.idempotency_key)
        raw: dict[str, Any] = {"id": ref, "object": "authorization", "amount": req.amount, "currency": req.currency}
        if behaviour == "approve":
            return GatewayResult("authorized", ref, raw=raw | {"status": "authorized"})
        if behaviour == "three_d_secure":
            action = {"type": "three_d_secure", "url": THREE_DS_URL + ref}
            return GatewayResult("requires_action", ref, None, message, next_action=action,
                                 raw=raw | {"status": "requires_action", "next_action": action})
        return GatewayResult("declined", ref, code, message, raw=raw | {"status": "declined", "decline_code": code})

    async def confirm(self, req: ConfirmRequest) -> GatewayResult:
        raw: dict[str, Any] = {"id": req.psp_reference, "object": "authorization", "amount": req.amount,
                               "currency": req.currency}
        if req.data.get("result") == "approve":
            return GatewayResult("authorized", req.psp_reference, raw=raw | {"status": "authorized"})
        return GatewayResult("declined", req.psp_reference, "authentication_failed",
                             "The buyer did not pass 3-D Secure authentication.",
                             raw=raw | {"status": "declined", "decline_code": "authentication_failed"})

    async def capture(self, req: CaptureRequest) -> GatewayResult:
        ref = reference_for("capture", req.idempotency_key)
        return GatewayResult("captured", req.psp_reference, raw={
            "id": ref, "object": "capture", "authorization": req.psp_reference, "amount": req.amount,
            "currency": req.currency, "status": "captured"})

    async def void(self, req: VoidRequest) -> GatewayResult:
        return GatewayResult("voided", req.psp_reference, raw={
            "id": reference_for("void", req.idempotency_key), "object": "void", "authorization": req.psp_reference,
            "status": "voided"})

    async def refund(self, req: RefundRequest) -> GatewayResult:
        return GatewayResult("refunded", req.psp_reference, raw={
            "id": reference_for("refund", req.idempotency_key), "object": "refund", "charge": req.psp_reference,
            "amount": req.amount, "currency": req.currency, "status": "refunded"})
