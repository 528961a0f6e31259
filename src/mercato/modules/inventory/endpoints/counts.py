"""/admin/inventory/counts: cycle counts and their variance report (`inventory:read` /
`inventory:write`).

Life cycle: open (lines entered with `PUT /lines`) → applied (`/apply`: on hand set to what was
counted) or cancelled (`/cancel`). An action the current status does not allow → 409
`inventory.invalid_transition`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.inventory import counts as service
from mercato.modules.inventory.models import StockCount
from mercato.modules.inventory.schemas.replenishment import (
    CountIn,
    CountLineIn,
    CountLinesIn,
    CountList,
    CountOut,
    CountStatus,
    VarianceOut,
    count_out,
    count_summary,
    variance_out,
)

router = APIRouter(prefix="/admin/inventory/counts", tags=["admin: inventory"], route_class=MercatoRoute)
READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
IfMatch = Header(default=None, description="ETag of the version you acted on (412 if stale)")


def _etag(count: StockCount) -> str:
    return etag_for(count.id, count.version)


def _lines(lines: list[CountLineIn]) -> list[service.CountLineData]:
    return [service.CountLineData(line.variant_id, line.counted) for line in lines]


def _answer(doc: service.CountDocument, response: Response) -> CountOut:
    response.headers["ETag"] = _etag(doc.count)
    return count_out(doc)


@router.get("", response_model=CountList, responses=problem_responses(401, 403, 422))
async def list_counts(
    page: PageParams = Depends(page_params),
    status: CountStatus | None = Query(default=None, description="Only counts in this status"),
    warehouse_id: str | None = Query(default=None, max_length=36),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> CountList:
    """Newest first, without lines."""
    warehouse = parse_id(warehouse_id or "")
    if warehouse_id is not None and warehouse is None:
        return CountList(items=[], next_cursor=None)
    result = await service.list_counts(session, status=status, warehouse_id=warehouse, limit=page.limit,
                                       cursor=page.cursor)
    return CountList(items=[count_summary(c) for c in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=CountOut, responses=problem_responses(400, 401, 403, 415, 422))
async def create_count(
    body: CountIn, response: Response, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CountOut:
    """An open count numbered CC-000001, ..., optionally with its first lines. An unknown warehouse
    or variant, or a variant twice → 422 `inventory.invalid` naming each field."""
    doc = await service.create_count(session, warehouse_id=body.warehouse_id, lines=_lines(body.lines))
    response.headers["Location"] = f"/admin/inventory/counts/{doc.count.id}"
    return _answer(doc, response)


@router.get("/{count_id}", response_model=CountOut, responses=problem_responses(401, 403, 404))
async def get_count(
    count_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> CountOut:
    count = await service.get_count(session, count_id)
    return _answer(await service.document(session, count), response)


@router.put("/{count_id}/lines", response_model=CountOut,
            responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def set_lines(
    count_id: str, body: CountLinesIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CountOut:
    """Enter counted figures: a variant already on the count gets the new figure (a recount),
    others are added; lines not mentioned stay. Unknown or repeated variants, or more than
    2000 lines on the count → 422 `inventory.invalid`; a count no longer open → 409
    `inventory.invalid_transition`."""
    count = await service.get_count(session, count_id, lock=True)
    check_if_match(if_match, _etag(count))
    return _answer(await service.set_lines(session, count, _lines(body.lines)), response)


@router.get("/{count_id}/variance", response_model=VarianceOut, responses=problem_responses(401, 403, 404))
async def get_variance(
    count_id: str, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> VarianceOut:
    """Per line: expected (on hand now while open; on hand when applied afterwards), counted, and
    variance = counted − expected; with totals."""
    count = await service.get_count(session, count_id)
    return variance_out(await service.variance(session, count))


@router.post("/{count_id}/apply", response_model=VarianceOut,
             responses=problem_responses(401, 403, 404, 409, 412, 422))
async def apply_count(
    count_id: str, response: Response, if_match: str | None = IfMatch,
    principal: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> VarianceOut:
    """Set on hand to the counted figure wherever it differs (`count_correction` movements
    referencing the count), store what was expected on every line, and answer the variance report
    as applied. A count no longer open → 409 `inventory.invalid_transition`; counting more of a
    lot-tracked variant than the ledger holds → 422 `inventory.lot_required` (receive the surplus
    with its lot instead)."""
    count = await service.get_count(session, count_id, lock=True)
    check_if_match(if_match, _etag(count))
    report = await service.apply(session, count, actor=principal.scope)
    response.headers["ETag"] = _etag(report.count)
    return variance_out(report)


@router.post("/{count_id}/cancel", response_model=CountOut, responses=problem_responses(401, 403, 404, 409, 412))
async def cancel_count(
    count_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CountOut:
    """Only an open count; otherwise → 409 `inventory.invalid_transition`."""
    count = await service.get_count(session, count_id, lock=True)
    check_if_match(if_match, _etag(count))
    return _answer(await service.cancel(session, count), response)


routers = [router]
