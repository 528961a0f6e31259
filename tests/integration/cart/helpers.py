"""A small shop for the cart tests: channels, demo tax, shipping and promotions, one warehouse with
stock, and variants in each state a cart must tell apart. Committed, so the HTTP client sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules import pricing, promotions, shipping
from mercato.modules.catalog.models import Variant
from mercato.modules.inventory import stock
from tests.integration.catalog.factories import VariantSpec, channel_ids, make_product, refresh
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse

DE_ADDRESS = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Unter den Linden 1", "city": "Berlin",
              "postal_code": "10117", "country_code": "DE"}
US_ADDRESS = {"first_name": "John", "last_name": "Doe", "line1": "350 Fifth Avenue", "city": "New York",
              "region": "NY", "postal_code": "10118", "country_code": "US"}
TRACKED_STOCK = 20


@dataclass(frozen=True)
class Shop:
    channels: dict[str, uuid.UUID]
    warehouse: uuid.UUID
    tracked: uuid.UUID  # 25.00 EUR / 29.00 USD, 20 in stock
    mug: uuid.UUID  # 10.00 EUR / 12.00 USD, not tracked
    limited: uuid.UUID  # 5.00 EUR, sold from 2 to 5 units
    draft: uuid.UUID  # product not published
    us_only: uuid.UUID  # priced and listed in web-us only
    many: tuple[uuid.UUID, ...]  # 10 more untracked variants, 1.00 EUR each


async def make_shop(session: AsyncSession) -> Shop:
    ids = await channel_ids(session)
    await pricing.seed_tax_demo(session)
    await shipping.seed_demo(session)
    await promotions.seed_demo(session)
    warehouse = await make_warehouse(session, channels=("web-eu", "web-us"))
    (tracked,) = await make_tracked_variants(session, prices={"web-eu": 2500, "web-us": 2900})
    await stock.change_on_hand(session, variant_id=tracked, warehouse_id=warehouse.id, kind="receipt",
                               delta=TRACKED_STOCK, actor="test")
    mug = await make_product(session, "Mug", prices={"web-eu": 1000, "web-us": 1200})
    limited = await make_product(session, "Socks", prices={"web-eu": 500})
    draft = await make_product(session, "Secret", prices={"web-eu": 700}, status="draft")
    us_only = await make_product(session, "Boots", prices={"web-us": 1500})
    many = await make_product(session, "Stickers", variants=[VariantSpec(prices={"web-eu": 100, "web-us": 100})
                                                             for _ in range(10)])
    await refresh(session, [mug, limited, draft, us_only, many])
    variants = {}
    for product in (mug, limited, draft, us_only):
        variants[product.id] = (await session.execute(
            select(Variant.id).where(Variant.product_id == product.id))).scalar_one()
    await session.execute(update(Variant).where(Variant.id == variants[limited.id])
                          .values(min_quantity=2, max_quantity=5))
    many_ids = tuple((await session.execute(select(Variant.id).where(Variant.product_id == many.id)
                                            .order_by(Variant.position))).scalars())
    await session.commit()
    return Shop(ids, warehouse.id, tracked, variants[mug.id], variants[limited.id], variants[draft.id],
                variants[us_only.id], many_ids)


async def new_cart(client: httpx.AsyncClient, channel: str = "web-eu", **headers: str) -> dict[str, Any]:
    response = await client.post("/store/carts", params={"channel": channel}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def add(client: httpx.AsyncClient, cart_id: str, variant: uuid.UUID | str, quantity: int = 1,
              **headers: str) -> httpx.Response:
    return await client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": str(variant), "quantity": quantity},
                             headers=headers)


async def read(client: httpx.AsyncClient, cart_id: str, **headers: str) -> dict[str, Any]:
    response = await client.get(f"/store/carts/{cart_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def amounts(cart: dict[str, Any]) -> dict[str, int]:
    return {key: value["amount"] for key, value in cart["totals"].items()}


def unchanged(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Same cart content (prices, lines, buyer data), ignoring nothing but nothing changes on a refusal."""
    return before == after
