"""What checkout hands to `create_order`: the priced, validated cart as plain data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

TOTAL_KEYS = ("subtotal", "discount", "shipping", "tax", "total")


@dataclass(frozen=True)
class OrderLineDraft:
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
class OrderDraft:
    channel_id: uuid.UUID
    currency: str
    customer_id: uuid.UUID | None
    email: str
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    shipping_option: dict[str, Any] | None
    lines: list[OrderLineDraft]
    totals: dict[str, int]  # subtotal, discount, shipping, tax, total
    breakdown: list[dict[str, Any]]
    coupons: list[str]
    cart_id: uuid.UUID | None
    prices_include_tax: bool


@dataclass(frozen=True)
class PlacedOrder:
    """`token` is the plain order token: give it to the buyer now, it cannot be recovered later."""

    id: uuid.UUID
    number: str
    token: str


def check_draft(draft: OrderDraft) -> None:
    """Programming errors of the caller (checkout validated the cart): fail loudly, store nothing."""
    if not draft.lines:
        raise ValueError("an order needs at least one line")
    missing = [key for key in TOTAL_KEYS if key not in draft.totals]
    if missing:
        raise ValueError(f"totals lack {missing}")
    if any(line.quantity <= 0 for line in draft.lines):
        raise ValueError("line quantities must be positive")
