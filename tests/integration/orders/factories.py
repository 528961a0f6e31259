"""Orders placed through `create_order`, as checkout places them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.orders import OrderDraft, OrderLineDraft, PlacedOrder, create_order
from tests.integration.catalog.factories import channel_ids

ADDRESS = {"first_name": "Jane", "last_name": "Doe", "line1": "Hauptstr. 1", "city": "Berlin",
           "postal_code": "10115", "country_code": "DE"}


def line_draft(unit_price: int = 1999, quantity: int = 2, *, sku: str | None = None) -> OrderLineDraft:
    subtotal = unit_price * quantity
    tax = subtotal * 19 // 119
    return OrderLineDraft(
        variant_id=uuid.uuid4(), product_id=uuid.uuid4(), sku=sku or f"SKU-{uuid.uuid4().hex[:8]}", name="T-shirt",
        quantity=quantity, unit_price=unit_price, subtotal=subtotal, discount=0, tax=tax, total=subtotal,
        tax_rate_ppm=190_000, breakdown=[{"kind": "base_price", "amount": unit_price, "source": "channel"}],
    )


async def make_draft(session: AsyncSession, *, customer_id: uuid.UUID | None = None, email: str = "Jane@Example.com",
                     cart_id: uuid.UUID | None = None, lines: list[OrderLineDraft] | None = None,
                     **extra: Any) -> OrderDraft:
    lines = lines or [line_draft()]
    subtotal = sum(line.total for line in lines)
    tax = sum(line.tax for line in lines)
    fields: dict[str, Any] = {
        "channel_id": (await channel_ids(session))["web-eu"], "currency": "EUR", "customer_id": customer_id,
        "email": email, "shipping_address": ADDRESS, "billing_address": ADDRESS,
        "shipping_option": {"id": str(uuid.uuid4()), "name": "Standard", "price": {"amount": 490, "currency": "EUR"}},
        "lines": lines,
        "totals": {"subtotal": subtotal, "discount": 0, "shipping": 490, "tax": tax, "total": subtotal + 490},
        "breakdown": [{"kind": "shipping", "amount": 490}], "coupons": [], "cart_id": cart_id,
        "prices_include_tax": True,
    }
    return OrderDraft(**(fields | extra))


async def place(session: AsyncSession, **fields: Any) -> PlacedOrder:
    return await create_order(session, await make_draft(session, **fields))
