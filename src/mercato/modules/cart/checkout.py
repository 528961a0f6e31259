"""What the checkout asks of the cart: a locked, freshly priced and validated view of it
(`checkout_view`), and closing it once the order exists (`mark_completed`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.sql import Statement
from mercato.modules import promotions
from mercato.modules.cart import rules
from mercato.modules.cart.errors import (
    CartCompleted,
    CartNotFound,
    CheckoutIncomplete,
    InsufficientStock,
    InvalidQuantity,
    VariantUnavailable,
)
from mercato.modules.cart.pricing import price, proposed_lines
from mercato.modules.cart.render import cart_json
from mercato.modules.cart.repository import load
from mercato.modules.cart.repository import lock as lock_cart
from mercato.modules.cart.service import check_access


@dataclass(frozen=True)
class CheckoutLine:
    """A line as the order will carry it; amounts in minor units of the cart's currency."""

    line_id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    unit_price: int
    subtotal: int
    discount: int
    tax: int
    total: int
    tax_rate_ppm: int
    breakdown: list[dict[str, Any]]


@dataclass(frozen=True)
class CheckoutView:
    """Everything the checkout needs, priced in its transaction. `totals`: subtotal, discount,
    shipping, tax, total (see pricing.totals_rules for how they relate). `promotions`: the result
    `promotions.redeem` counts. `shipping_option`: id, code, name, price, currency, min_days,
    max_days, tax_class, carrier, provider. `billing_address` is the shipping address when the
    shopper gave none."""

    cart_id: uuid.UUID
    channel_id: uuid.UUID
    channel_code: str
    reservation_ttl_s: int
    currency: str
    customer_id: uuid.UUID | None
    email: str
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    shipping_option: dict[str, Any]
    coupons: list[str]
    lines: list[CheckoutLine]
    totals: dict[str, int]
    breakdown: list[dict[str, Any]]
    promotions: promotions.PromoResult
    prices_include_tax: bool
    tax_included: bool
    reservation_reference: str
    reserved: bool  # the cart already holds a reservation (an earlier attempt)
    cart: dict[str, Any] = field(default_factory=dict)  # the cart's JSON as priced here


def _incomplete(code: str, field_name: str, message: str) -> CheckoutIncomplete:
    return CheckoutIncomplete(code, field_name, message)


async def checkout_view(session: AsyncSession, cart_id: uuid.UUID, *, principal_customer_id: uuid.UUID | None,
                        lock: bool) -> CheckoutView:
    """The cart (locked FOR UPDATE when `lock`) priced now — prices, promotions, the shipping option
    quoted again, tax — and checked for checkout: 404 `cart.not_found`; 409 `cart.completed`; 422
    `cart.empty`, `cart.email_required`, `cart.shipping_address_required`,
    `cart.shipping_option_required`, `cart.invalid_quantity`, `shipping.option_unavailable`, a
    coupon's reason (`promotion.expired` ...); 409 `cart.variant_unavailable`,
    `inventory.insufficient_stock` (what the channel's warehouses can hand out now, this cart's own
    reservation included; the reservation itself is the checkout's)."""
    now = utcnow()
    if lock:
        await lock_cart(session, cart_id)
    state = check_access(await load(session, cart_id, now=now, for_guest=principal_customer_id is None),
                         principal_customer_id, now)
    if state.status != "active":
        raise CartCompleted()
    if not state.lines:
        raise _incomplete("cart.empty", "lines", "The cart is empty.")
    for i, item in enumerate(state.lines):
        if not item.listed:
            raise VariantUnavailable(f"lines.{i}.variant_id")
        errors = rules.quantity_errors(item.quantity, min_quantity=item.min_quantity,
                                       max_quantity=item.max_quantity, field=f"lines.{i}.quantity")
        if errors:
            raise InvalidQuantity(errors)
    shortages = [error for i, item in enumerate(state.lines)
                 for error in rules.stock_shortage(item.quantity, tracked=item.track_inventory, free=item.free,
                                                   field=f"lines.{i}.quantity")]
    if shortages:
        shortage = InsufficientStock(shortages)
        shortage.code = "inventory.insufficient_stock"
        raise shortage
    email = state.order_email
    if not email:
        raise _incomplete("cart.email_required", "email", "Give an email address.")
    if state.shipping_address is None:
        raise _incomplete("cart.shipping_address_required", "shipping_address", "Give a shipping address.")
    if state.shipping_option_id is None:
        raise _incomplete("cart.shipping_option_required", "shipping_option_id", "Choose a shipping option.")
    proposed = proposed_lines(state)
    priced = await price(session, state, proposed, now=now, requote=True, strict_shipping=True, fresh=True)
    for i, p in enumerate(proposed):
        if p.key not in priced.lines:
            raise VariantUnavailable(f"lines.{i}.variant_id")
    for code in state.coupons:
        rejection = priced.promo.rejections.get(code)
        if rejection is not None:
            raise promotions.CouponRejected(rejection.reason, rejection.message, coupon=code)
    assert priced.quote is not None
    lines = []
    for p in proposed:
        totals = priced.totals.line(p.key)
        lines.append(CheckoutLine(
            line_id=uuid.UUID(p.key), variant_id=p.item.variant_id, product_id=p.item.product_id or uuid.UUID(int=0),
            sku=p.item.sku, name=p.item.name, quantity=p.quantity, unit_price=totals.unit_price,
            subtotal=totals.subtotal, discount=totals.discount, tax=totals.tax, total=totals.total,
            tax_rate_ppm=totals.tax_rate_ppm, breakdown=[entry.as_dict() for entry in totals.breakdown],
        ))
    state.shipping_quote = priced.quote
    return CheckoutView(
        cart_id=state.id, channel_id=state.channel_id, channel_code=state.channel_code,
        reservation_ttl_s=state.reservation_ttl_s, currency=state.currency, customer_id=state.customer_id,
        email=email, shipping_address=state.shipping_address,
        billing_address=state.billing_address or state.shipping_address, shipping_option=priced.quote,
        coupons=list(state.coupons), lines=lines, totals=priced.totals.totals.as_dict(),
        breakdown=[entry.as_dict() for entry in priced.totals.breakdown], promotions=priced.promo,
        prices_include_tax=state.prices_include_tax, tax_included=priced.totals.totals.tax_included,
        reservation_reference=f"cart:{state.id}", reserved=state.reserved, cart=cart_json(state, priced),
    )


# Whether the cart is there at all comes with the update, for the error that explains a refusal.
_COMPLETE = Statement("""
WITH completed AS (
    UPDATE carts SET status = 'completed', order_id = :order_id, completed_at = :now, updated_at = :now,
                     expires_at = :expires, version = version + 1
    WHERE id = :id AND status = 'active' RETURNING id)
SELECT EXISTS (SELECT 1 FROM completed) AS completed, EXISTS (SELECT 1 FROM carts WHERE id = :id) AS found
""")


async def mark_completed(session: AsyncSession, cart_id: uuid.UUID, order_id: uuid.UUID) -> None:
    """Close the cart: it became order `order_id`. Later changes answer 409 `cart.completed`; the
    customer's next POST /store/carts starts a new cart. Completed carts stay readable for
    COMPLETED_TTL, then the purge job deletes them. 409 when it was completed already."""
    now = utcnow()
    done = await _COMPLETE.fetchrow(session, id=cart_id, order_id=order_id, now=now,
                                    expires=now + rules.COMPLETED_TTL)
    if not done.completed:
        if not done.found:
            raise CartNotFound()
        raise CartCompleted()
