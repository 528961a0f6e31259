"""Warehouses: where stock lives, which channels and destination countries each one serves.

Other modules' tables (channels) are read by name, as the foreign keys name them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from babel import Locale
from sqlalchemy import Uuid, column, delete, exists, or_, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import InvalidInventory, WarehouseCodeTaken, WarehouseInUse, WarehouseNotFound
from mercato.modules.inventory.models import (
    PurchaseOrder,
    StockAllocation,
    StockBucket,
    StockCount,
    StockLevel,
    StockMovement,
    Transfer,
    Warehouse,
)

_channels = table("channels", column("id", Uuid()))

CODE_MAX = 50
_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
COUNTRIES = frozenset(
    k for k in Locale("en").territories
    # ZZ is CLDR's "unknown region", EU/UN/EZ/QO are groupings: none is a country a warehouse is in.
    if isinstance(k, str) and len(k) == 2 and k.isalpha() and k.isupper() and k not in {"ZZ", "EU", "UN", "EZ", "QO"}
)
_NOT_A_COUNTRY = "Not an ISO 3166-1 alpha-2 country code."


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    postal_code: str
    country_code: str
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class WarehouseData:
    code: str
    name: str
    address: Address
    latitude: float | None = None
    longitude: float | None = None
    priority: int = 100
    is_active: bool = True
    click_and_collect: bool = False
    channel_ids: Sequence[str] = field(default_factory=tuple)
    ship_countries: Sequence[str] = field(default_factory=tuple)


def data_of(warehouse: Warehouse) -> WarehouseData:
    """A warehouse's current settings, for merging a partial update into."""
    raw = warehouse.address
    address = Address(line1=raw.get("line1", ""), city=raw.get("city", ""), postal_code=raw.get("postal_code", ""),
                      country_code=raw.get("country_code", warehouse.country_code), line2=raw.get("line2"),
                      region=raw.get("region"))
    return WarehouseData(
        code=warehouse.code, name=warehouse.name, address=address, latitude=warehouse.latitude,
        longitude=warehouse.longitude, priority=warehouse.priority, is_active=warehouse.is_active,
        click_and_collect=warehouse.click_and_collect, channel_ids=tuple(str(c) for c in warehouse.channel_ids),
        ship_countries=tuple(warehouse.ship_countries),
    )


async def list_warehouses(
    session: AsyncSession, *, is_active: bool | None = None, limit: int, cursor: str | None
) -> Page[Warehouse]:
    stmt = select(Warehouse)
    if is_active is not None:
        stmt = stmt.where(Warehouse.is_active.is_(is_active))
    return await keyset_page(session, stmt, [SortKey(Warehouse.code)], limit=limit, cursor=cursor)


async def get_warehouse(session: AsyncSession, warehouse_id: str | uuid.UUID, *, lock: bool = False) -> Warehouse:
    parsed = warehouse_id if isinstance(warehouse_id, uuid.UUID) else parse_id(warehouse_id)
    if parsed is None:
        raise WarehouseNotFound()
    stmt = select(Warehouse).where(Warehouse.id == parsed)
    warehouse = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if warehouse is None:
        raise WarehouseNotFound()
    return warehouse


async def _checked(session: AsyncSession, data: WarehouseData) -> dict[str, Any]:
    """The warehouse's column values, after checking every field and that its channels exist."""
    errors: list[FieldError] = []
    if not _CODE.match(data.code):
        errors.append(FieldError("code", "invalid", "Lower-case letters, digits and dashes, at most 50."))
    country = data.address.country_code.upper()
    if country not in COUNTRIES:
        errors.append(FieldError("address.country_code", "invalid", _NOT_A_COUNTRY))
    if data.latitude is not None and not -90 <= data.latitude <= 90:
        errors.append(FieldError("latitude", "out_of_range", "Between -90 and 90."))
    if data.longitude is not None and not -180 <= data.longitude <= 180:
        errors.append(FieldError("longitude", "out_of_range", "Between -180 and 180."))
    if data.priority < 0:
        errors.append(FieldError("priority", "too_small", "0 or more (lower ships first)."))
    ship_countries = [c.upper() for c in data.ship_countries]
    errors += [FieldError(f"ship_countries[{i}]", "invalid", _NOT_A_COUNTRY)
               for i, c in enumerate(ship_countries) if c not in COUNTRIES]
    parsed = [parse_id(raw) for raw in data.channel_ids]
    wanted = [p for p in parsed if p is not None]
    known = set((await session.execute(select(_channels.c.id).where(_channels.c.id.in_(wanted))))
                .scalars()) if wanted else set()
    errors += [FieldError(f"channel_ids[{i}]", "unknown", "No channel has this id.")
               for i, p in enumerate(parsed) if p is None or p not in known]
    if errors:
        raise InvalidInventory(errors)
    address = {k: v for k, v in asdict(data.address).items() if v is not None} | {"country_code": country}
    return {
        "code": data.code, "name": data.name, "address": address, "country_code": country,
        "latitude": data.latitude, "longitude": data.longitude, "priority": data.priority,
        "is_active": data.is_active, "click_and_collect": data.click_and_collect,
        "channel_ids": list(dict.fromkeys(wanted)), "ship_countries": list(dict.fromkeys(ship_countries)),
    }


async def create_warehouse(session: AsyncSession, data: WarehouseData) -> Warehouse:
    """A code another warehouse has → 409. A new warehouse holds no stock: availability is unchanged."""
    values = await _checked(session, data)
    warehouse = (await session.execute(
        insert(Warehouse).values(id=new_id(), version=1, **values)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(Warehouse)
    )).scalar_one_or_none()
    if warehouse is None:
        raise WarehouseCodeTaken(data.code)
    return warehouse


_ROUTING = ("channel_ids", "is_active", "ship_countries")


async def update_warehouse(session: AsyncSession, warehouse: Warehouse, data: WarehouseData) -> Warehouse:
    """Replace a (locked) warehouse's settings (the endpoint merges a partial update into `data`).
    When where it sells changes, the sellable flags of the variants it stocks are recomputed."""
    values = await _checked(session, data)
    if values["code"] != warehouse.code and await session.scalar(
        select(exists().where(Warehouse.code == values["code"], Warehouse.id != warehouse.id))
    ):
        raise WarehouseCodeTaken(values["code"])
    before = {name: getattr(warehouse, name) for name in _ROUTING}
    for key, value in values.items():
        setattr(warehouse, key, value)
    warehouse.version += 1
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent change took the code between the check and the write
        raise WarehouseCodeTaken(values["code"]) from exc
    if any(_differs(before[name], values[name]) for name in _ROUTING):
        await _recompute(session, warehouse.id)
    await session.refresh(warehouse)
    return warehouse


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, list):
        return sorted(map(str, old)) != sorted(map(str, new))
    return bool(old != new)


async def _recompute(session: AsyncSession, warehouse_id: uuid.UUID) -> None:
    await stock.recompute_availability_for_warehouse(session, warehouse_id)


async def delete_warehouse(session: AsyncSession, warehouse: Warehouse) -> None:
    """Delete a (locked) warehouse and its empty stock rows. One that holds or promises stock, has a
    ledger, or is named by a purchase order, transfer or count → 409 (deactivate it instead)."""
    wid = warehouse.id
    in_use = select(or_(
        exists().where(StockLevel.warehouse_id == wid, StockLevel.on_hand != 0),
        exists().where(StockBucket.stock_id == StockLevel.id, StockLevel.warehouse_id == wid,
                       or_(StockBucket.reserved != 0, StockBucket.allocated != 0)),
        # The ledger is append-only: rows that ever moved keep their history (and their stock row).
        exists().where(StockMovement.warehouse_id == wid),
        exists().where(StockAllocation.warehouse_id == wid),
        exists().where(PurchaseOrder.warehouse_id == wid),
        exists().where(or_(Transfer.from_warehouse_id == wid, Transfer.to_warehouse_id == wid)),
        exists().where(StockCount.warehouse_id == wid),
    ))
    if await session.scalar(in_use):
        raise WarehouseInUse()
    if warehouse.is_active:
        # Gone means selling nothing: recompute while it still exists, as an inactive warehouse.
        warehouse.is_active = False
        await session.flush()
        await _recompute(session, wid)
    try:
        async with session.begin_nested():
            await session.execute(delete(StockLevel).where(StockLevel.warehouse_id == wid))
            await session.delete(warehouse)
            await session.flush()
    except IntegrityError as exc:  # a document or movement was pointed at it meanwhile
        raise WarehouseInUse() from exc
