"""The buyer's side of a payment that needed their action: orders calls payments (never the
reverse), then records the outcome on the order."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import ServiceUnavailable
from mercato.modules import payments
from mercato.modules.orders.service import order_json, record_payment, shopper_order

ConfirmResult = Literal["approve", "fail"]


async def confirm_payment(session: AsyncSession, raw_order_id: str, *, result: ConfirmResult,
                          customer_id: str | None, token: str | None, actor: str) -> dict[str, Any]:
    """Complete the order's 3-D Secure payment with the challenge's `result` and return the order.

    404 when the caller may not see the order; 409 `payment.no_action_required` when no payment
    waits; 402 `payment.declined` (decline code in `errors`) when authentication failed, and then —
    as for every error — nothing is recorded, so the payment still waits and the buyer may retry;
    503 `payment.gateway_error` on a transient gateway failure."""
    order = await shopper_order(session, raw_order_id, customer_id=customer_id, token=token, lock=True)
    outcome = await payments.confirm(session, order_id=order.id, data={"result": result})
    if outcome.status == "declined":
        raise payments.Declined(outcome.message or "The payment was declined.", decline_code=outcome.decline_code)
    if outcome.status == "failed":
        raise ServiceUnavailable("The payment provider had a transient error; try again.",
                                 code="payment.gateway_error", retry_after_s=1)
    await record_payment(session, order.id, payment_status=outcome.status, event="payment.confirmed",
                         data={"payment_id": str(outcome.payment_id), "status": outcome.status,
                               "psp_reference": outcome.psp_reference}, actor=actor)
    return await order_json(session, order.id)
