"""/admin/inventory: the stock view, adjustments, stock settings, the movement ledger, per-variant
policy and the bulk sync for ERPs and warehouse systems.

Reads need `inventory:read`, changes `inventory:write`. Every change goes through the core
(`stock`), which writes the ledger and keeps availability and cached product pages in step.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import UtcDatetime
from mercato.kit.errors import FieldError, MalformedRequest
from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.pagination import SortKey, decode_for, encode_cursor, keyset_page
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules.inventory import item_policy, stock, stock_sync
from mercato.modules.inventory.errors import InvalidInventory
from mercato.modules.inventory.models import StockLevel, StockMovement
from mercato.modules.inventory.schemas.stock_admin import (
    AdjustmentIn,
    ItemPolicyIn,
    ItemPolicyOut,
    LevelsIn,
    MovementList,
    StockList,
    StockRowOut,
    SyncIn,
    SyncReportOut,
    movement_out,
    policy_out,
    stock_row_out,
    sync_report_out,
)

router = APIRouter(prefix="/admin/inventory", tags=["admin: inventory"], route_class=MercatoRoute)
READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


# ---------------------------------------------------------------------------------------------
# stock rows


@router.get("", response_model=StockList, responses=problem_responses(401, 403, 422))
async def stock_view(
    variant_id: uuid.UUID | None = Query(default=None, description="Every warehouse's row of this variant"),
    warehouse_id: uuid.UUID | None = Query(default=None, description="This warehouse's rows, by variant id"),
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> StockList:
    """One of `variant_id` / `warehouse_id` is required (422 otherwise). A variant's rows come in one
    page (by warehouse priority); a warehouse's rows are keyset-paginated by variant id."""
    if variant_id is None and warehouse_id is None:
        raise InvalidInventory([FieldError("query.variant_id", "required", "Give variant_id or warehouse_id.")],
                               "Name a variant or a warehouse.")
    if variant_id is not None:
        rows = await stock.stock_rows(session, variant_id=variant_id, warehouse_id=warehouse_id)
        return StockList(items=[stock_row_out(r) for r in rows], next_cursor=None)
    key = [SortKey(StockLevel.variant_id)]
    after = decode_for(key, page.cursor)[0] if page.cursor else None
    rows = await stock.stock_rows(session, warehouse_id=warehouse_id, after_variant=after, limit=page.limit + 1)
    more = len(rows) > page.limit
    rows = rows[:page.limit]
    return StockList(items=[stock_row_out(r) for r in rows],
                     next_cursor=encode_cursor([rows[-1].variant_id]) if more else None)


@router.post("/adjustments", status_code=201, response_model=StockRowOut,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
@idempotent
async def adjust(
    body: AdjustmentIn, principal: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> StockRowOut:
    """Correct on-hand stock by `delta` or to `set_on_hand` (exactly one; delta not 0), with a reason;
    an `adjustment` movement records it. Honours `Idempotency-Key`. Stock below zero → 409
    `inventory.negative_on_hand`; unknown variant / warehouse → 404; a lot-tracked variant gaining
    stock without `lot_number` → 422 `inventory.lot_required`."""
    row = await stock.change_on_hand(
        session, variant_id=body.variant_id, warehouse_id=body.warehouse_id, delta=body.delta,
        set_on_hand=body.set_on_hand, kind="adjustment", actor=principal.scope, reason=body.reason,
        lot_number=body.lot_number, expires_on=body.expires_on,
    )
    return stock_row_out(row)


@router.patch("/levels", response_model=StockRowOut, responses=problem_responses(400, 401, 403, 404, 415, 422))
async def update_levels(
    body: LevelsIn, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> StockRowOut:
    """Safety stock and replenishment levels of one stock row (created when missing); fields left out
    keep their value."""
    row = await stock.update_stock_settings(
        session, variant_id=body.variant_id, warehouse_id=body.warehouse_id, safety_stock=body.safety_stock,
        low_stock_threshold=body.low_stock_threshold, reorder_point=body.reorder_point,
        reorder_quantity=body.reorder_quantity,
    )
    return stock_row_out(row)


# ---------------------------------------------------------------------------------------------
# the ledger


@router.get("/movements", response_model=MovementList, responses=problem_responses(401, 403, 422))
async def list_movements(
    variant_id: uuid.UUID | None = Query(default=None), warehouse_id: uuid.UUID | None = Query(default=None),
    kind: str | None = Query(default=None, max_length=30, description="One of the movement kinds"),
    reference_type: str | None = Query(default=None, max_length=30),
    reference_id: str | None = Query(default=None, max_length=200),
    since: UtcDatetime | None = Query(default=None, description="Created at or after"),
    until: UtcDatetime | None = Query(default=None, description="Created before"),
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> MovementList:
    """Newest first. An unknown `kind` → 422 `inventory.invalid`."""
    if kind is not None and kind not in stock.MOVEMENT_KINDS:
        raise InvalidInventory([FieldError("query.kind", "invalid", "One of: " + ", ".join(stock.MOVEMENT_KINDS))])
    stmt = select(StockMovement)
    for column, value in ((StockMovement.variant_id, variant_id), (StockMovement.warehouse_id, warehouse_id),
                          (StockMovement.kind, kind), (StockMovement.reference_type, reference_type),
                          (StockMovement.reference_id, reference_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(StockMovement.created_at >= since)
    if until is not None:
        stmt = stmt.where(StockMovement.created_at < until)
    result = await keyset_page(session, stmt, [SortKey(StockMovement.id, descending=True)], limit=page.limit,
                               cursor=page.cursor)
    return MovementList(items=[movement_out(m) for m in result.items], next_cursor=result.next_cursor)


# ---------------------------------------------------------------------------------------------
# per-variant policy


def _policy_etag(policy: item_policy.ItemPolicy) -> str:
    return etag_for(policy.variant_id, policy.version)


@router.get("/items/{variant_id}", response_model=ItemPolicyOut, responses=problem_responses(401, 403, 404))
async def get_item(
    variant_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ItemPolicyOut:
    """The variant's stock policy; the defaults (version 0) when none was set."""
    policy = await item_policy.get_policy(session, variant_id)
    response.headers["ETag"] = _policy_etag(policy)
    return policy_out(policy)


@router.put("/items/{variant_id}", response_model=ItemPolicyOut,
            responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def put_item(
    variant_id: str, body: ItemPolicyIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ItemPolicyOut:
    """Replace the variant's policy (fields left out take their defaults). A release date without
    `preorder_cap` → 422 `inventory.invalid`. Its stock rows are re-split into `buckets` and its
    availability recomputed."""
    current = await item_policy.get_policy(session, variant_id, lock=True)
    check_if_match(if_match, _policy_etag(current))
    policy = await item_policy.put_policy(
        session, current.variant_id, item_policy.PolicyData(**body.model_dump()),
        expected_version=current.version if if_match is not None else None,
    )
    response.headers["ETag"] = _policy_etag(policy)
    return policy_out(policy)


# ---------------------------------------------------------------------------------------------
# bulk sync


@router.post("/sync", response_model=SyncReportOut, responses=problem_responses(400, 401, 403, 409, 415, 422))
@idempotent
async def sync(
    body: SyncIn,
    idempotency_key: str | None = Header(default=None, description="Required: a replay returns the same report"),
    principal: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> SyncReportOut:
    """Set (`absolute`) or change (`delta`) on-hand stock of up to 5,000 SKU × warehouse-code items.
    A bad item (unknown SKU or warehouse, negative count, stock that would go below zero) is reported
    by index and skipped; the others are applied. Without `Idempotency-Key` → 400
    `idempotency.key_required`; the same key with another body → 422 `idempotency.mismatch`."""
    if idempotency_key is None:
        raise MalformedRequest("Send an Idempotency-Key: a retried sync must not apply twice.",
                               code="idempotency.key_required")
    report = await stock_sync.sync_stock(
        session, mode=body.mode,
        items=[stock_sync.SyncItem(i.sku, i.warehouse_code, i.quantity) for i in body.items],
        actor=principal.scope, reference_id=stock_sync.reference_for(idempotency_key),
    )
    return sync_report_out(report)


routers = [router]
