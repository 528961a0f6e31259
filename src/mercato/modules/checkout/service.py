"""Placing an order: one transaction that re-validates the cart, holds its stock, creates the
order, allocates the stock, counts coupon use and authorizes the payment.

The order of the steps is chosen for what happens when one fails:
  1. the cart is locked and priced afresh (`cart.checkout_view`): two checkouts of one cart queue
     here, and the second finds the cart completed (409 `cart.completed`) — one order per cart;
  2. the stock is held for the cart (a reservation with the channel's TTL, refreshed when the cart
     already holds one) — 409 `inventory.insufficient_stock` when it cannot be;
  3. a savepoint; then the order, the allocation of the held stock, the coupon count (a limit
     reached meanwhile → 409 `promotion.usage_limit_reached`) and the payment authorization;
  4. a declined payment rolls back to the savepoint and commits: no order, no coupon use, the
     cart and its reservation kept for another attempt (402 `payment.declined`); a gateway failure
     that may pass does the same (503 `payment.processing_error`, safe to retry);
  5. otherwise the payment status is recorded on the order and the cart is closed.
The coupon counters are row-locked from step 3 until commit, so they are taken as late as the
order allows: a popular coupon serialises checkouts for the length of one authorization only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.db import run_after_commit, take_after_commit
from mercato.kit.ids import new_id
from mercato.modules import cart, inventory, orders, payments, promotions
from mercato.modules.checkout.errors import PaymentUnavailable


@dataclass(frozen=True)
class CheckoutResult:
    """`status` 201 (paid: authorized) or 202 (the buyer must act: `body["next_action"]`)."""

    status: int
    body: dict[str, Any]


async def place_order(
    session: AsyncSession, *, cart_id: uuid.UUID, customer_id: uuid.UUID | None, gateway: str, token: str,
    attempt_key: str,
) -> CheckoutResult:
    """Turn the cart into an order paid through `gateway` with the buyer's payment `token`.

    `attempt_key` identifies this purchase attempt across retries (the request's Idempotency-Key,
    or one derived from the cart): the gateway never charges twice for one key. Commits the
    session itself before raising a declined or failed payment, so the stock hold survives.
    """
    payments.gateway_named(gateway)  # 422 payment.unknown_gateway before anything is touched
    view = await cart.checkout_view(session, cart_id, principal_customer_id=customer_id, lock=True)
    actor = f"customer:{customer_id}" if customer_id else "guest"
    await _hold_stock(session, view, actor=actor)

    order_id = new_id()
    attempt = await session.begin_nested()
    placed = await orders.create_order(session, _draft(view), order_id=order_id, actor=actor)
    await inventory.allocate(session, view.reservation_reference, order_reference=f"order:{order_id}", actor=actor)
    await promotions.redeem(session, view.promotions, order_id=order_id, customer_id=view.customer_id,
                            currency=view.currency)
    outcome = await payments.authorize(
        session, order_id=order_id, amount=view.totals["total"], currency=view.currency, gateway=gateway,
        token=token, idempotency_key=f"checkout:{cart_id}:{attempt_key}"[:255], email=view.email)
    if outcome.status in ("declined", "failed"):
        await attempt.rollback()
        await session.commit()
        await run_after_commit(take_after_commit(session))
        if outcome.status == "declined":
            raise payments.Declined(outcome.message or "The payment was declined.", decline_code=outcome.decline_code)
        raise PaymentUnavailable()
    await attempt.commit()
    await orders.record_payment(session, order_id, payment_status=outcome.status,
                                event=f"payment.{outcome.status}",
                                data={"payment_id": str(outcome.payment_id), "gateway": gateway,
                                      "amount": outcome.amount, "currency": outcome.currency}, actor=actor)
    await cart.mark_completed(session, cart_id, order_id)
    body: dict[str, Any] = {"order": await orders.order_json(session, order_id), "order_token": placed.token}
    if outcome.status == "requires_action":
        body["next_action"] = outcome.next_action
        return CheckoutResult(202, body)
    return CheckoutResult(201, body)


async def _hold_stock(session: AsyncSession, view: cart.CheckoutView, *, actor: str) -> None:
    """Hold exactly the cart's lines for the channel's TTL: what an earlier attempt held is given
    back and taken again in this transaction (no other buyer can take it in between — its buckets
    stay locked by us), so a hold that partly expired can never slip into the order."""
    if view.reserved:
        await inventory.release(session, view.reservation_reference, actor=actor)
    await inventory.reserve(
        session, reference=view.reservation_reference,
        lines=[inventory.ReserveLine(line.variant_id, line.quantity) for line in view.lines],
        channel_id=view.channel_id, country=view.shipping_address.get("country_code"),
        ttl=timedelta(seconds=view.reservation_ttl_s), actor=actor)


def _draft(view: cart.CheckoutView) -> orders.OrderDraft:
    return orders.OrderDraft(
        channel_id=view.channel_id, currency=view.currency, customer_id=view.customer_id, email=view.email,
        shipping_address=view.shipping_address, billing_address=view.billing_address,
        shipping_option=view.shipping_option,
        lines=[orders.OrderLineDraft(
            variant_id=line.variant_id, product_id=line.product_id, sku=line.sku, name=line.name,
            quantity=line.quantity, unit_price=line.unit_price, subtotal=line.subtotal, discount=line.discount,
            tax=line.tax, total=line.total, tax_rate_ppm=line.tax_rate_ppm, breakdown=line.breakdown)
            for line in view.lines],
        totals=view.totals, breakdown=view.breakdown, coupons=view.coupons, cart_id=view.cart_id,
        prices_include_tax=view.prices_include_tax)
