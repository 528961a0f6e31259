"""Placing an order: one transaction that re-validates the cart, creates the order, authorizes the
payment, counts coupon use and allocates the stock.

The order of the steps is chosen for what happens when one fails, and so that rows every buyer
of a product or a promotion needs are locked for as short a time as possible:
  1. the cart is locked and priced afresh (`cart.checkout_view`): two checkouts of one cart queue
     here, and the second finds the cart completed (409 `cart.completed`) — one order per cart;
  2. a savepoint; the order (pending) and the payment authorization;
  3. a declined payment rolls back to the savepoint, holds the cart's stock for another attempt
     (a reservation with the channel's TTL) and commits: no order, no coupon use, the cart and its
     stock hold kept (402 `payment.declined`); a gateway failure that may pass does the same (503
     `payment.processing_error`, safe to retry);
  4. otherwise the payment is recorded on the order and the cart closed; then, last, the shared
     rows: the coupon and promotion counters (`promotions.redeem`: a limit reached meanwhile →
     409 `promotion.usage_limit_reached`) and the stock (held, then allocated to the order: gone
     meanwhile → 409 `inventory.insufficient_stock`). Those rows stay locked until commit, a few
     statements later. When either refuses, the authorization is voided and nothing is kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.db import run_after_commit, take_after_commit
from mercato.kit.errors import DomainError
from mercato.kit.ids import new_id
from mercato.kit.sql import Savepoint
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
    if view.customer_id is None and customer_id is not None:
        # A guest cart checked out by a signed-in customer: the order is theirs.
        view = replace(view, customer_id=customer_id)
    actor = f"customer:{customer_id}" if customer_id else "guest"
    order_id = new_id()
    payment_key = f"checkout:{cart_id}:{attempt_key}"[:255]

    # Only driver statements run until the payment's outcome is known: a plain savepoint will do.
    attempt = await Savepoint.set(session)
    placed = await orders.create_order(session, _draft(view), order_id=order_id, actor=actor)
    outcome = await payments.authorize(
        session, order_id=order_id, amount=view.totals["total"], currency=view.currency, gateway=gateway,
        token=token, idempotency_key=payment_key, email=view.email)
    if outcome.status in ("declined", "failed"):
        await attempt.rollback()
        await _keep_stock_for_retry(session, view, actor=actor)
        await session.commit()
        await run_after_commit(take_after_commit(session))
        if outcome.status == "declined":
            raise payments.Declined(outcome.message or "The payment was declined.", decline_code=outcome.decline_code)
        raise PaymentUnavailable()
    await attempt.release()
    await orders.record_payment(session, order_id, payment_status=outcome.status,
                                event=f"payment.{outcome.status}",
                                data={"payment_id": str(outcome.payment_id), "gateway": gateway,
                                      "amount": outcome.amount, "currency": outcome.currency}, actor=actor)
    await cart.mark_completed(session, cart_id, order_id)
    body: dict[str, Any] = {"order": await orders.order_json(session, order_id), "order_token": placed.token}
    try:
        await promotions.redeem(session, view.promotions, order_id=order_id, customer_id=view.customer_id,
                                currency=view.currency)
        await _hold_stock(session, view, actor=actor)
        await inventory.allocate(session, view.reservation_reference, order_reference=f"order:{order_id}",
                                 actor=actor)
    except DomainError:
        if outcome.psp_reference:
            await payments.void_unrecorded(gateway, psp_reference=outcome.psp_reference, idempotency_key=payment_key)
        raise
    if outcome.status == "requires_action":
        body["next_action"] = outcome.next_action
        return CheckoutResult(202, body)
    return CheckoutResult(201, body)


async def _keep_stock_for_retry(session: AsyncSession, view: cart.CheckoutView, *, actor: str) -> None:
    """After a declined payment: hold the cart's stock for the buyer's next attempt, if it can be
    held (a shortage here is the next attempt's 409, not this one's answer)."""
    attempt = await Savepoint.set(session)
    try:
        await _hold_stock(session, view, actor=actor)
    except inventory.InsufficientStock:
        await attempt.rollback()
    else:
        await attempt.release()


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
