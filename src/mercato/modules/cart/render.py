"""A cart as the storefront sees it (API.md's cart shape plus explanations), built from memory."""

from __future__ import annotations

from typing import Any

from mercato.kit.clock import rfc3339
from mercato.modules.cart.pricing import PricedCart
from mercato.modules.cart.repository import CartState


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _entries(entries: Any, currency: str) -> list[dict[str, Any]]:
    return [{**entry.as_dict(), "currency": currency} for entry in entries]


def cart_json(state: CartState, priced: PricedCart) -> dict[str, Any]:
    """The cart's JSON shape: `id`, `currency`, `lines` (`id`, `variant_id`, `sku`, `name`,
    `quantity`, `unit_price`, `total` and, added: `product_id`, `subtotal`, `discount`, `tax`,
    `available`, `price_changed`, `previous_unit_price`, `breakdown`), `email`, the addresses,
    `shipping_option`, `coupons`, `totals` (`subtotal`, `discount`, `shipping`, `tax`, `total`,
    each Money) and, added: `channel`, `customer_id`, `status`, `tax_included`, `tax_exempt` (the
    customer is in a tax-exempt group: no tax charged), `tax_calculated`, `promotions`,
    `coupon_problems`, `breakdown`, `created_at`, `updated_at`, `expires_at`."""
    currency = state.currency
    lines = []
    for proposed in priced.proposed:
        item = proposed.item
        stored = item.stored_price
        if proposed.key in priced.lines:
            totals = priced.totals.line(proposed.key)
            unit = totals.unit_price
            changed = stored is not None and stored != unit
            lines.append({
                "id": proposed.key, "variant_id": str(item.variant_id), "product_id": str(item.product_id),
                "sku": item.sku, "name": item.name, "quantity": proposed.quantity,
                "unit_price": money(unit, currency), "subtotal": money(totals.subtotal, currency),
                "discount": money(totals.discount, currency), "tax": money(totals.tax, currency),
                "total": money(totals.total, currency), "available": True, "price_changed": changed,
                "previous_unit_price": money(stored, currency) if changed and stored is not None else None,
                "breakdown": _entries(totals.breakdown, currency),
            })
        else:
            # No longer for sale here: kept so the shopper sees what happened, left out of the totals.
            zero = money(0, currency)
            lines.append({
                "id": proposed.key, "variant_id": str(item.variant_id),
                "product_id": str(item.product_id) if item.product_id else None, "sku": item.sku, "name": item.name,
                "quantity": proposed.quantity, "unit_price": money(stored or 0, currency), "subtotal": zero,
                "discount": zero, "tax": zero, "total": zero, "available": False, "price_changed": False,
                "previous_unit_price": None, "breakdown": [],
            })
    quote = priced.quote
    order = priced.totals.totals
    rejections = priced.promo.rejections if priced.lines else {}
    return {
        "id": str(state.id),
        "channel": state.channel_code,
        "currency": currency,
        "customer_id": str(state.customer_id) if state.customer_id else None,
        "status": state.status,
        "lines": lines,
        "email": state.order_email,
        "shipping_address": state.shipping_address,
        "billing_address": state.billing_address,
        "shipping_option": {
            "id": quote["id"], "name": quote["name"], "price": money(int(quote["price"]), currency),
            "min_days": quote["min_days"], "max_days": quote["max_days"],
        } if quote is not None else None,
        "coupons": list(state.coupons),
        "coupon_problems": [{"code": code, "reason": r.reason, "message": r.message}
                            for code, r in rejections.items() if code in state.coupons],
        "promotions": [{"id": str(a.promotion_id), "name": a.label, "code": a.code, "kind": a.kind,
                        "amount": money(a.amount, currency)} for a in priced.promo.applied],
        "totals": {key: money(value, currency) for key, value in order.as_dict().items()},
        "tax_included": order.tax_included,
        "tax_exempt": state.tax_exempt,
        "tax_calculated": priced.totals.tax_computed,
        "breakdown": _entries(priced.totals.breakdown, currency),
        "created_at": rfc3339(state.created_at),
        "updated_at": rfc3339(state.updated_at),
        "expires_at": rfc3339(state.expires_at),
    }
