"""Stock policy of one variant: backorders, preorders, lot tracking, and how many buckets its stock
rows are split into (ADR 0010). A variant without a row has the defaults (version 0)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Uuid, column, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, PreconditionFailed
from mercato.kit.ids import parse_id
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import InvalidInventory, VariantNotFound
from mercato.modules.inventory.models import InventoryItem

_variants = table("variants", column("id", Uuid()))

MAX_BUCKETS = 64


@dataclass(frozen=True)
class PolicyData:
    backorder_limit: int = 0
    preorder_release_at: datetime | None = None
    preorder_cap: int | None = None  # required with a release date
    lot_tracked: bool = False
    buckets: int = 1


@dataclass(frozen=True)
class ItemPolicy:
    variant_id: uuid.UUID
    backorder_limit: int
    preorder_release_at: datetime | None
    preorder_cap: int
    lot_tracked: bool
    buckets: int
    version: int  # 0: never set, the defaults apply
    updated_at: datetime | None


def _policy(item: InventoryItem) -> ItemPolicy:
    return ItemPolicy(
        variant_id=item.variant_id, backorder_limit=item.backorder_limit,
        preorder_release_at=item.preorder_release_at, preorder_cap=item.preorder_cap, lot_tracked=item.lot_tracked,
        buckets=item.buckets, version=item.version, updated_at=item.updated_at,
    )


def _defaults(variant_id: uuid.UUID) -> ItemPolicy:
    return ItemPolicy(variant_id=variant_id, backorder_limit=0, preorder_release_at=None, preorder_cap=0,
                      lot_tracked=False, buckets=1, version=0, updated_at=None)


async def _variant(session: AsyncSession, variant_id: str | uuid.UUID) -> uuid.UUID:
    parsed = variant_id if isinstance(variant_id, uuid.UUID) else parse_id(variant_id)
    if parsed is None or await session.scalar(select(_variants.c.id).where(_variants.c.id == parsed)) is None:
        raise VariantNotFound()
    return parsed


async def get_policy(session: AsyncSession, variant_id: str | uuid.UUID, *, lock: bool = False) -> ItemPolicy:
    """The variant's policy (the defaults when none was set); an unknown variant → 404."""
    parsed = await _variant(session, variant_id)
    stmt = select(InventoryItem).where(InventoryItem.variant_id == parsed)
    item = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    return _policy(item) if item is not None else _defaults(parsed)


def _check(data: PolicyData) -> None:
    errors: list[FieldError] = []
    if data.backorder_limit < 0:
        errors.append(FieldError("backorder_limit", "too_small", "0 or more (0: no backorders)."))
    if data.preorder_cap is not None and data.preorder_cap < 0:
        errors.append(FieldError("preorder_cap", "too_small", "0 or more."))
    if data.preorder_release_at is not None and data.preorder_cap is None:
        errors.append(FieldError("preorder_cap", "required", "How many units may be preordered before release."))
    if data.preorder_release_at is not None and data.preorder_release_at.tzinfo is None:
        errors.append(FieldError("preorder_release_at", "naive", "Give a time zone offset."))
    if not 1 <= data.buckets <= MAX_BUCKETS:
        errors.append(FieldError("buckets", "out_of_range", f"Between 1 and {MAX_BUCKETS}."))
    if errors:
        raise InvalidInventory(errors)


async def put_policy(
    session: AsyncSession, variant_id: str | uuid.UUID, data: PolicyData, *, expected_version: int | None = None
) -> ItemPolicy:
    """Set the variant's whole policy. With `expected_version` (the version the client read; 0 for
    the defaults) a concurrent change in between → 412. The core then re-splits the variant's
    buckets and recomputes where it is sellable."""
    _check(data)
    parsed = await _variant(session, variant_id)
    release = data.preorder_release_at.astimezone(UTC) if data.preorder_release_at is not None else None
    values = {"backorder_limit": data.backorder_limit, "preorder_release_at": release,
              "preorder_cap": data.preorder_cap or 0, "lot_tracked": data.lot_tracked, "buckets": data.buckets}
    stmt = insert(InventoryItem).values(variant_id=parsed, version=1, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[InventoryItem.variant_id],
        set_={**values, "version": InventoryItem.version + 1, "updated_at": utcnow()},
        where=InventoryItem.version == expected_version if expected_version is not None else None,
    )
    item = (await session.execute(
        stmt.returning(InventoryItem), execution_options={"populate_existing": True}
    )).scalar_one_or_none()
    if item is None or (expected_version is not None and item.version != expected_version + 1):
        # A row appeared (or changed) since the client read it: its edit would overwrite another.
        raise PreconditionFailed(
            "The resource changed since you read it; fetch it again and retry.", code="precondition.stale"
        )
    await session.flush()
    await stock.apply_policy(session, parsed)
    return _policy(item)
