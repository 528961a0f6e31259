"""Warehouses and stock-tracked variants for inventory tests (flushed, not committed)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.catalog import listing
from mercato.modules.catalog.models import Variant
from mercato.modules.inventory.models import InventoryItem, Warehouse
from tests.integration.catalog.factories import VariantSpec, channel_ids, make_product

_seq = itertools.count(1)


async def make_warehouse(session: AsyncSession, *, channels: Sequence[str] = ("web-eu",), priority: int = 100,
                         country: str = "DE", ship_countries: Sequence[str] = (),
                         latitude: float | None = None, longitude: float | None = None,
                         click_and_collect: bool = False, is_active: bool = True) -> Warehouse:
    known = await channel_ids(session)
    n = next(_seq)
    warehouse = Warehouse(
        code=f"wh-{n}-{uuid.uuid4().hex[:6]}", name=f"Warehouse {n}", country_code=country,
        address={"line1": f"{n} Dock Road", "city": "Berlin", "postal_code": "10115", "country_code": country},
        latitude=latitude, longitude=longitude, priority=priority, is_active=is_active,
        click_and_collect=click_and_collect, channel_ids=[known[c] for c in channels],
        ship_countries=list(ship_countries),
    )
    session.add(warehouse)
    await session.flush()
    return warehouse


async def make_tracked_variants(session: AsyncSession, n: int = 1, *, name: str = "Flash kettle",
                                prices: dict[str, int] | None = None) -> list[uuid.UUID]:
    product = await make_product(session, name, variants=[
        VariantSpec(prices=prices or {"web-eu": 2500}, track_inventory=True) for _ in range(n)])
    await listing.refresh(session, [product.id])
    return list((await session.execute(
        select(Variant.id).where(Variant.product_id == product.id).order_by(Variant.position))).scalars())


async def set_policy(session: AsyncSession, variant_id: uuid.UUID, **fields: object) -> None:
    from mercato.modules.inventory import stock

    item = await session.get(InventoryItem, variant_id)
    if item is None:
        item = InventoryItem(variant_id=variant_id)
        session.add(item)
    for key, value in fields.items():
        setattr(item, key, value)
    await session.flush()
    await stock.apply_policy(session, variant_id)
