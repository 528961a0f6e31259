"""Bulk stock sync for ERPs and warehouse systems: on-hand quantities by SKU and warehouse code,
absolute ("this is what we counted") or delta ("this many arrived / left").

A bad item is reported (index, field, code, message) and skipped; the good ones are applied, each in
its own savepoint, as `adjustment` movements with reason "sync". Replaying the same request is the
endpoint's business (`Idempotency-Key`); the key is recorded on the movements as their reference.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import String, Uuid, any_, bindparam, column, select, table, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import DomainError, FieldError
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import InvalidInventory
from mercato.modules.inventory.models import StockLevel, Warehouse

_variants = table("variants", column("id", Uuid()), column("sku", String()))

MAX_ITEMS = 5000
INT32_MAX = 2**31 - 1
REFERENCE_MAX = 200  # stock_movements.reference_id

Mode = Literal["absolute", "delta"]
MODES: tuple[str, ...] = ("absolute", "delta")


@dataclass(frozen=True)
class SyncItem:
    sku: str
    warehouse_code: str
    quantity: int


@dataclass(frozen=True)
class SyncError:
    index: int
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class SyncReport:
    applied: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[SyncError] = field(default_factory=list)


def reference_for(key: str | None) -> str | None:
    """The movements' reference: the Idempotency-Key, or its digest when longer than the column."""
    if key is None or len(key) <= REFERENCE_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def sync_stock(
    session: AsyncSession, *, mode: str, items: Sequence[SyncItem], actor: str | None, reference_id: str | None
) -> SyncReport:
    if mode not in MODES:
        raise InvalidInventory([FieldError("mode", "invalid", "Either 'absolute' or 'delta'.")])
    if len(items) > MAX_ITEMS:
        raise InvalidInventory([FieldError("items", "too_many", f"At most {MAX_ITEMS} items per request.")])
    skus = sorted({item.sku for item in items})
    codes = sorted({item.warehouse_code for item in items})
    variant_by_sku: dict[str, uuid.UUID] = dict((await session.execute(
        select(_variants.c.sku, _variants.c.id).where(
            _variants.c.sku == any_(bindparam("skus", skus, type_=ARRAY(String())))
        )
    )).all())
    warehouse_by_code: dict[str, uuid.UUID] = dict((await session.execute(
        select(Warehouse.code, Warehouse.id).where(
            Warehouse.code == any_(bindparam("codes", codes, type_=ARRAY(String())))
        )
    )).all())

    errors: list[SyncError] = []
    todo: list[tuple[uuid.UUID, uuid.UUID, int, int]] = []  # (variant, warehouse, index, quantity)
    for i, item in enumerate(items):
        variant_id = variant_by_sku.get(item.sku)
        warehouse_id = warehouse_by_code.get(item.warehouse_code)
        if variant_id is None:
            errors.append(SyncError(i, f"items[{i}].sku", "unknown", "No variant has this SKU."))
        if warehouse_id is None:
            errors.append(SyncError(i, f"items[{i}].warehouse_code", "unknown", "No warehouse has this code."))
        if mode == "absolute" and item.quantity < 0:
            errors.append(SyncError(i, f"items[{i}].quantity", "negative", "An on-hand count is 0 or more."))
        if variant_id is not None and warehouse_id is not None and not (mode == "absolute" and item.quantity < 0):
            todo.append((variant_id, warehouse_id, i, item.quantity))
    # Applied in (variant, warehouse) order; a stable sort keeps the request's order among items
    # naming the same row (absolute: the last one wins).
    todo.sort(key=lambda t: (t[0], t[1]))
    on_hand = await _lock_current(session, [(v, w) for v, w, _, _ in todo])

    applied = unchanged = 0
    for variant_id, warehouse_id, i, quantity in todo:
        current = on_hand.get((variant_id, warehouse_id), 0)
        target = quantity if mode == "absolute" else current + quantity
        if target == current:
            unchanged += 1
            continue
        if target < 0:
            errors.append(SyncError(i, f"items[{i}].quantity", "negative_on_hand",
                                    f"Only {current} on hand; physical stock cannot go below zero."))
            continue
        if target > INT32_MAX:
            errors.append(SyncError(i, f"items[{i}].quantity", "too_large", f"On hand would pass {INT32_MAX}."))
            continue
        try:
            async with session.begin_nested():
                row = await _apply(session, variant_id, warehouse_id, mode, quantity, actor, reference_id)
        except DomainError as exc:
            errors.append(SyncError(i, f"items[{i}].quantity", exc.code.rsplit(".", 1)[-1], exc.message))
            continue
        on_hand[(variant_id, warehouse_id)] = row
        applied += 1
    errors.sort(key=lambda e: e.index)
    return SyncReport(applied=applied, unchanged=unchanged, failed=len({e.index for e in errors}), errors=errors)


async def _lock_current(
    session: AsyncSession, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """On hand of the existing stock rows named, locked up front so the comparisons hold until the
    changes are written."""
    if not pairs:
        return {}
    rows = (await session.execute(
        select(StockLevel.variant_id, StockLevel.warehouse_id, StockLevel.on_hand)
        .where(tuple_(StockLevel.variant_id, StockLevel.warehouse_id).in_(sorted(set(pairs))))
        .order_by(StockLevel.id)  # the core's lock order for stock rows
        .with_for_update()
    )).all()
    return {(v, w): n for v, w, n in rows}


async def _apply(
    session: AsyncSession, variant_id: uuid.UUID, warehouse_id: uuid.UUID, mode: str, quantity: int,
    actor: str | None, reference_id: str | None,
) -> int:
    row = await stock.change_on_hand(
        session, variant_id=variant_id, warehouse_id=warehouse_id,
        delta=quantity if mode == "delta" else None, set_on_hand=quantity if mode == "absolute" else None,
        kind="adjustment", actor=actor, reason="sync", reference_type="sync", reference_id=reference_id,
    )
    return row.on_hand
