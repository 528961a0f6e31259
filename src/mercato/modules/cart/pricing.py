"""Pricing a cart: the I/O around `pricing.price_cart` (the pure engine).

Statements, whatever the number of lines: none for the prices (each variant's offer comes with the
loaded cart, `pricing.OFFER_SQL`; `pricing.price_from_offer` chooses), `active_promotions` (one,
only when the cart has priced lines — none for a guest without codes when this process holds the
automatic promotions of the version read with the cart), the chosen shipping option quoted again
(two, only on writes and at checkout, only when one is chosen: reads show the quote stored at the
last change), tax rates (one, only when the cart has a shipping address).

Promotions and shipping depend on each other: a free-over threshold compares against the subtotal
after discounts, and free shipping needs the shipping price. The promotions are loaded once and
evaluated (purely) twice: first without shipping to get the discounted subtotal the option is
quoted for, then with the option's price, which is the result used.

Who the buyer is comes with the loaded cart (no statement of its own): the customer's groups, whether
one of them is tax-exempt (tax is then not charged, and tax-inclusive prices lose the tax they
contain, see `pricing.tax_rules`), and whether it is their first order (first-order promotions; a
guest never has one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mercato.kit.sql import Executor
from mercato.modules import pricing, promotions, shipping
from mercato.modules.cart.repository import CartState, Item


@dataclass(frozen=True)
class Proposed:
    """A line as it will be after the change being made (key: the line id as text)."""

    key: str
    item: Item
    quantity: int


@dataclass(frozen=True)
class PricedCart:
    proposed: tuple[Proposed, ...]
    lines: dict[str, pricing.PricedLine]  # priced (available) lines by key
    unavailable: frozenset[str]  # keys of lines not for sale in the channel now
    totals: pricing.Totals
    promo_cart: promotions.PromoCart
    promo: promotions.PromoResult
    quote: dict[str, Any] | None
    shipping_dropped: bool  # the chosen option no longer applies (address, weight, cart changed)
    weight_grams: int


def quote_of(option: shipping.ShippingOption) -> dict[str, Any]:
    return {"id": option.id, "code": option.code, "name": option.name, "price": option.price,
            "currency": option.currency, "min_days": option.min_days, "max_days": option.max_days,
            "tax_class": option.tax_class, "carrier": option.carrier, "provider": option.provider}


def discounts_of(result: promotions.PromoResult) -> pricing.Discounts:
    """The promotions engine's result in the pricing engine's terms."""

    def convert(adjustments: tuple[promotions.Adjustment, ...]) -> list[pricing.Discount]:
        return [pricing.Discount(source_id=a.promotion_id, name=a.label, amount=a.amount, benefit=a.kind,
                                 level=a.level, code=a.code) for a in adjustments]

    return pricing.Discounts(per_line={key: convert(adj) for key, adj in result.line_adjustments.items() if adj},
                             order=convert(result.order_adjustments), shipping=convert(result.shipping_adjustments))


async def price(
    session: Executor,
    state: CartState,
    proposed: list[Proposed],
    *,
    now: datetime,
    requote: bool,
    strict_shipping: bool = False,
    fresh: bool = False,
) -> PricedCart:
    """Price `proposed` (the cart's lines after a change) for `state`'s channel, customer, coupons,
    shipping option and address. `requote`: ask the shipping module for the chosen option's price
    (writes, checkout); else use the stored quote (reads). `strict_shipping`: an option that no
    longer applies raises 422 `shipping.option_unavailable` instead of being dropped. `fresh`: read
    the promotions in this transaction (checkout) rather than take the ones this process holds for
    the version read with the cart."""
    ordered = sorted(proposed, key=lambda p: p.key)
    sellable = [p for p in ordered if p.item.known and p.item.listed]
    # The prices came with the cart (pricing.OFFER_SQL in its load): choosing costs no statement.
    resolved = [pricing.price_from_offer(p.item.variant_id, p.quantity, p.item.offer, now, state.group_ids)
                for p in sellable]
    lines: dict[str, pricing.PricedLine] = {}
    promo_lines: list[promotions.PromoLine] = []
    weight = 0
    for p, found in zip(sellable, resolved, strict=True):
        resolution = found.resolution
        if resolution is None or found.currency != state.currency:
            continue
        lines[p.key] = pricing.PricedLine(
            key=p.key, quantity=p.quantity, base_unit_price=resolution.base_amount, unit_price=resolution.amount,
            tax_class=p.item.tax_class, price_source=resolution.source, price_list_id=resolution.price_list_id,
            price_explanation=resolution.explanation,
        )
        promo_lines.append(promotions.PromoLine(
            key=p.key, variant_id=p.item.variant_id, product_id=p.item.product_id or uuid.UUID(int=0),
            quantity=p.quantity, unit_price=resolution.amount, subtotal=resolution.amount * p.quantity,
            category_path=p.item.category_path, collection_ids=p.item.collection_ids, brand_id=p.item.brand_id,
        ))
        weight += p.item.weight_grams * p.quantity
    unavailable = frozenset(p.key for p in ordered if p.key not in lines)

    promo_cart = promotions.PromoCart.of(promo_lines, currency=state.currency, channel_id=state.channel_id,
                                         customer_id=state.customer_id, customer_group_ids=state.group_ids,
                                         is_first_order=state.first_order)
    codes = promotions.normalized_codes(state.coupons)
    loaded: list[promotions.Promotion] = []
    if promo_lines:
        loaded = await promotions.active_promotions(session, channel_id=state.channel_id, codes=codes, now=now,
                                                    customer_id=state.customer_id,
                                                    version=None if fresh else state.promotions_version)
    result = promotions.evaluate(promo_cart, loaded, codes=codes, now=now)

    quote, dropped = None, False
    address = state.shipping_address
    if state.shipping_option_id is not None and address is not None and lines:
        if requote:
            try:
                option = await shipping.shipping_option(
                    session, state.shipping_option_id, channel_id=state.channel_id, currency=state.currency,
                    country=address["country_code"], region=address.get("region"),
                    postal_code=address.get("postal_code"), subtotal=promo_cart.subtotal - result.discount_total,
                    weight_grams=weight)
                quote = quote_of(option)
            except shipping.ShippingOptionUnavailable:
                if strict_shipping:
                    raise
                dropped = True
        else:
            quote = state.shipping_quote
    if quote is not None and loaded:
        promo_cart = replace(promo_cart, shipping_amount=int(quote["price"]))
        result = promotions.evaluate(promo_cart, loaded, codes=codes, now=now)

    rates = None
    if address is not None and lines:
        classes = {line.tax_class for line in lines.values()} | ({quote["tax_class"]} if quote else set())
        rates = await pricing.rates_for(session, country=address["country_code"], region=address.get("region"),
                                        postal_code=address.get("postal_code"), tax_classes=sorted(classes))
    charge = pricing.ShippingCharge(amount=int(quote["price"]), tax_class=quote["tax_class"], name=quote["name"],
                                    option_id=quote["id"]) if quote is not None else None
    totals = pricing.price_cart(lines.values(), discounts=discounts_of(result), shipping=charge, rates=rates,
                                prices_include_tax=state.prices_include_tax, exempt=state.tax_exempt)
    return PricedCart(tuple(proposed), lines, unavailable, totals, promo_cart, result, quote, dropped, weight)


def proposed_lines(state: CartState) -> list[Proposed]:
    """The cart's lines as they are."""
    return [Proposed(str(item.line_id), item, item.quantity) for item in state.lines]
