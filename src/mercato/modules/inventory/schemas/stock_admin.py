"""Request and response shapes of /admin/inventory: the stock view, adjustments, stock settings, the
movement ledger, per-variant policy and the bulk sync."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mercato.kit.clock import UtcDatetime
from mercato.modules.inventory.item_policy import MAX_BUCKETS, ItemPolicy
from mercato.modules.inventory.models import StockMovement
from mercato.modules.inventory.stock import StockRow
from mercato.modules.inventory.stock_sync import MAX_ITEMS, SyncReport

INT32_MAX = 2**31 - 1
Count = Annotated[int, Field(ge=0, le=INT32_MAX, strict=True)]
Quantity = Annotated[int, Field(ge=-INT32_MAX, le=INT32_MAX, strict=True)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------
# stock rows


class StockRowOut(BaseModel):
    warehouse_id: str
    warehouse_code: str
    variant_id: str
    sku: str
    on_hand: int
    reserved: int
    allocated: int
    safety_stock: int
    available: int = Field(description="on_hand − reserved − allocated − safety_stock")
    in_transit: int = Field(description="Units on their way here in shipped transfers")


class StockList(BaseModel):
    items: list[StockRowOut]
    next_cursor: str | None


def stock_row_out(row: StockRow) -> StockRowOut:
    return StockRowOut(
        warehouse_id=str(row.warehouse_id), warehouse_code=row.warehouse_code, variant_id=str(row.variant_id),
        sku=row.sku, on_hand=row.on_hand, reserved=row.reserved, allocated=row.allocated,
        safety_stock=row.safety_stock, available=row.available, in_transit=row.in_transit,
    )


class AdjustmentIn(_Body):
    """Exactly one of `delta` (not 0) and `set_on_hand`."""

    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    delta: Quantity | None = Field(default=None, description="Units to add (negative: remove); not 0")
    set_on_hand: Count | None = Field(default=None, description="The counted on-hand quantity")
    reason: Reason
    lot_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    expires_on: date | None = None

    @model_validator(mode="after")
    def _one_change(self) -> AdjustmentIn:
        if (self.delta is None) == (self.set_on_hand is None):
            raise ValueError("give exactly one of delta and set_on_hand")
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class LevelsIn(_Body):
    """Fields left out (or null) keep their value."""

    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    safety_stock: Count | None = Field(default=None, description="Units held back from sale")
    low_stock_threshold: Count | None = Field(default=None, description="`stock.low` when available drops below")
    reorder_point: Count | None = None
    reorder_quantity: Count | None = None


# ---------------------------------------------------------------------------------------------
# movements


class MovementOut(BaseModel):
    id: int
    variant_id: str
    warehouse_id: str
    kind: str
    quantity: int
    on_hand_delta: int
    reserved_delta: int
    allocated_delta: int
    reason: str | None
    reference_type: str | None
    reference_id: str | None
    lot_id: str | None
    actor: str | None
    created_at: datetime


class MovementList(BaseModel):
    items: list[MovementOut]
    next_cursor: str | None


def movement_out(m: StockMovement) -> MovementOut:
    return MovementOut(
        id=m.id, variant_id=str(m.variant_id), warehouse_id=str(m.warehouse_id), kind=m.kind, quantity=m.quantity,
        on_hand_delta=m.on_hand_delta, reserved_delta=m.reserved_delta, allocated_delta=m.allocated_delta,
        reason=m.reason, reference_type=m.reference_type, reference_id=m.reference_id,
        lot_id=str(m.lot_id) if m.lot_id else None, actor=m.actor, created_at=m.created_at,
    )


# ---------------------------------------------------------------------------------------------
# per-variant policy


class ItemPolicyIn(_Body):
    """The whole policy: fields left out take their defaults."""

    backorder_limit: Count = Field(default=0, description="Units that may be sold beyond stock (0: none)")
    preorder_release_at: UtcDatetime | None = Field(default=None, description="Preorders allowed until then")
    preorder_cap: Count | None = Field(default=None, description="Required with preorder_release_at")
    lot_tracked: bool = False
    buckets: Annotated[int, Field(ge=1, le=MAX_BUCKETS, strict=True)] = Field(
        default=1, description="Rows each stock row is split into (hot items: more, ADR 0010)")


class ItemPolicyOut(BaseModel):
    variant_id: str
    backorder_limit: int
    preorder_release_at: datetime | None
    preorder_cap: int
    lot_tracked: bool
    buckets: int
    version: int = Field(description="0: never set, the defaults apply")


def policy_out(p: ItemPolicy) -> ItemPolicyOut:
    return ItemPolicyOut(
        variant_id=str(p.variant_id), backorder_limit=p.backorder_limit, preorder_release_at=p.preorder_release_at,
        preorder_cap=p.preorder_cap, lot_tracked=p.lot_tracked, buckets=p.buckets, version=p.version,
    )


# ---------------------------------------------------------------------------------------------
# bulk sync


class SyncItemIn(_Body):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    warehouse_code: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    quantity: Quantity = Field(description="absolute: the on-hand count (≥ 0); delta: units to add or remove")


class SyncIn(_Body):
    mode: Literal["absolute", "delta"]
    items: list[SyncItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class SyncErrorOut(BaseModel):
    index: int
    field: str
    code: str
    message: str


class SyncReportOut(BaseModel):
    applied: int
    unchanged: int
    failed: int
    errors: list[SyncErrorOut]


def sync_report_out(report: SyncReport) -> SyncReportOut:
    return SyncReportOut(
        applied=report.applied, unchanged=report.unchanged, failed=report.failed,
        errors=[SyncErrorOut(index=e.index, field=e.field, code=e.code, message=e.message) for e in report.errors],
    )
