"""Cycle counts: what staff counted on the shelves of one warehouse, compared with what the ledger
says, and applied as `count_correction` movements.

A count is open while lines are entered (entering a variant again replaces its figure), then
applied or cancelled. The variance report compares with the current on hand while the count is
open, and with the on hand at application time (stored per line) afterwards. Applying locks the
count, then the stock rows it touches, so each stored `expected` is exactly what the correction
corrected from.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import DocumentNotFound, InvalidInventory
from mercato.modules.inventory.models import StockCount, StockCountLine, StockLevel
from mercato.modules.inventory.purchase_orders import (
    checked_variants,
    next_number,
    require,
    variant_skus,
    warehouse_id_of,
)

STATUSES = ("open", "applied", "cancelled")
MAX_COUNT_LINES = 2000  # per count: the variance report and the application handle them in one go
_OPEN = {"open"}


@dataclass(frozen=True)
class CountLineData:
    variant_id: str
    counted: int


@dataclass(frozen=True)
class CountLineView:
    line: StockCountLine
    sku: str


@dataclass(frozen=True)
class CountDocument:
    count: StockCount
    lines: list[CountLineView]


@dataclass(frozen=True)
class VarianceLine:
    variant_id: uuid.UUID
    sku: str
    expected: int
    counted: int

    @property
    def variance(self) -> int:
        return self.counted - self.expected


@dataclass(frozen=True)
class VarianceReport:
    count: StockCount
    lines: list[VarianceLine]


async def list_counts(
    session: AsyncSession, *, status: str | None, warehouse_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[StockCount]:
    """Newest first."""
    stmt = select(StockCount)
    if status is not None:
        stmt = stmt.where(StockCount.status == status)
    if warehouse_id is not None:
        stmt = stmt.where(StockCount.warehouse_id == warehouse_id)
    return await keyset_page(session, stmt, [SortKey(StockCount.id, descending=True)], limit=limit, cursor=cursor)


async def get_count(session: AsyncSession, count_id: str, *, lock: bool = False) -> StockCount:
    parsed = parse_id(count_id)
    if parsed is None:
        raise DocumentNotFound("count")
    stmt = select(StockCount).where(StockCount.id == parsed)
    count = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if count is None:
        raise DocumentNotFound("count")
    return count


async def _lines(session: AsyncSession, count: StockCount) -> list[StockCountLine]:
    stmt = select(StockCountLine).where(StockCountLine.count_id == count.id).order_by(StockCountLine.id)
    # populate_existing: an upsert of the lines bypasses the identity map.
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())


async def document(session: AsyncSession, count: StockCount) -> CountDocument:
    lines = await _lines(session, count)
    skus = await variant_skus(session, {line.variant_id for line in lines})
    return CountDocument(count, [CountLineView(line, skus.get(line.variant_id, "")) for line in lines])


async def create_count(session: AsyncSession, *, warehouse_id: str, lines: Sequence[CountLineData]) -> CountDocument:
    """An open count; an unknown warehouse or variant, or a variant twice → 422 naming each field."""
    errors: list[FieldError] = []
    warehouse = await warehouse_id_of(session, warehouse_id)
    if warehouse is None:
        errors.append(FieldError("warehouse_id", "unknown", "No warehouse has this id."))
    variant_ids: list[uuid.UUID] = []
    try:
        variant_ids = await checked_variants(session, [line.variant_id for line in lines],
                                             max_lines=MAX_COUNT_LINES)
    except InvalidInventory as exc:
        errors.extend(exc.errors)
    if errors or warehouse is None:
        raise InvalidInventory(errors)
    count = StockCount(number=await next_number(session, "count", "CC"), warehouse_id=warehouse, status="open",
                       version=1)
    session.add(count)
    await session.flush()
    session.add_all(StockCountLine(count_id=count.id, variant_id=variant_id, counted=line.counted)
                    for variant_id, line in zip(variant_ids, lines, strict=True))
    await session.flush()
    await session.refresh(count)
    return await document(session, count)


async def set_lines(session: AsyncSession, count: StockCount, lines: Sequence[CountLineData]) -> CountDocument:
    """Enter counted figures on a locked, open count: a variant already counted gets the new figure
    (a recount), others are added. At most MAX_COUNT_LINES variants per count."""
    require("count", count.status, "edited", _OPEN)
    variant_ids = await checked_variants(session, [line.variant_id for line in lines], max_lines=MAX_COUNT_LINES)
    present = set((await session.execute(
        select(StockCountLine.variant_id).where(StockCountLine.count_id == count.id)
    )).scalars())
    if len(present | set(variant_ids)) > MAX_COUNT_LINES:
        raise InvalidInventory([FieldError("lines", "too_many", f"A count holds at most {MAX_COUNT_LINES} lines.")])
    stmt = insert(StockCountLine).values([
        {"id": new_id(), "count_id": count.id, "variant_id": variant_id,
         "counted": line.counted}
        for variant_id, line in zip(variant_ids, lines, strict=True)
    ])
    await session.execute(stmt.on_conflict_do_update(constraint="count_variant",
                                                     set_={"counted": stmt.excluded.counted}))
    return await _saved(session, count)


async def _on_hand(
    session: AsyncSession, warehouse_id: uuid.UUID, variant_ids: Collection[uuid.UUID], *, lock: bool = False
) -> dict[uuid.UUID, int]:
    if not variant_ids:
        return {}
    stmt = (select(StockLevel.variant_id, StockLevel.on_hand)
            .where(StockLevel.warehouse_id == warehouse_id, StockLevel.variant_id.in_(variant_ids))
            .order_by(StockLevel.variant_id))
    rows = await session.execute(stmt.with_for_update() if lock else stmt)
    return {variant_id: on_hand for variant_id, on_hand in rows.all()}


async def variance(session: AsyncSession, count: StockCount) -> VarianceReport:
    lines = await _lines(session, count)
    skus = await variant_skus(session, {line.variant_id for line in lines})
    if count.status == "applied":
        expected = {line.variant_id: line.expected or 0 for line in lines}
    else:
        expected = await _on_hand(session, count.warehouse_id, {line.variant_id for line in lines})
    return VarianceReport(count, [
        VarianceLine(line.variant_id, skus.get(line.variant_id, ""), expected.get(line.variant_id, 0), line.counted)
        for line in lines
    ])


async def apply(session: AsyncSession, count: StockCount, *, actor: str | None) -> VarianceReport:
    """Set on hand to the counted figure wherever they differ (a locked, open count), storing what
    was expected on every line. Returns the variance report as applied."""
    require("count", count.status, "applied", _OPEN)
    lines = sorted(await _lines(session, count), key=lambda line: line.variant_id)
    # Locked in variant order, as every multi-line stock change takes them: no deadlock with receipts.
    on_hand = await _on_hand(session, count.warehouse_id, {line.variant_id for line in lines}, lock=True)
    for line in lines:
        line.expected = on_hand.get(line.variant_id, 0)
        if line.counted != line.expected:
            await stock.change_on_hand(
                session, variant_id=line.variant_id, warehouse_id=count.warehouse_id, set_on_hand=line.counted,
                kind="count_correction", actor=actor, reason=f"cycle count {count.number}",
                reference_type="count", reference_id=str(count.id),
            )
    count.status, count.applied_at = "applied", utcnow()
    await _saved(session, count)
    return await variance(session, count)


async def cancel(session: AsyncSession, count: StockCount) -> CountDocument:
    require("count", count.status, "cancelled", _OPEN)
    count.status = "cancelled"
    return await _saved(session, count)


async def _saved(session: AsyncSession, count: StockCount) -> CountDocument:
    count.version += 1
    await session.flush()
    await session.refresh(count)
    return await document(session, count)
