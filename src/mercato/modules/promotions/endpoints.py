"""/admin/promotions: promotions, their coupon codes (by hand or generated in bulk) and usage.

Everything here needs `promotions:write` (there is no separate read permission). Shoppers meet
promotions through the cart (`POST /store/carts/{id}/coupons`), which calls this module's service.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules.promotions import service
from mercato.modules.promotions.models import Promotion
from mercato.modules.promotions.schemas import (
    CodeList,
    CodesAdded,
    CodesIn,
    GeneratedOut,
    GenerateIn,
    PromotionIn,
    PromotionList,
    PromotionOut,
    PromotionUpdateIn,
    StatsOut,
    code_out,
    promotion_out,
    stats_out,
)

router = APIRouter(prefix="/admin/promotions", tags=["admin: promotions"], route_class=MercatoRoute)

WRITE = require_permission("promotions:write")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")
_EXPORT_CHUNK = 5000

# Fields of a promotion an update merges into (the rest of PromotionOut is computed or counted).
_SETTINGS = {"name", "description", "trigger", "is_active", "starts_at", "ends_at", "channel_ids", "currency",
             "priority", "exclusive", "stackable", "benefit", "conditions", "per_customer_limit", "usage_limit",
             "budget", "max_discount_amount", "max_discount_ppm"}
# Not nullable: `null` in an update leaves them as they are.
_REQUIRED = ("name", "description", "trigger", "is_active", "channel_ids", "priority", "exclusive", "stackable",
             "benefit", "conditions")


def _etag(promotion: Promotion) -> str:
    return etag_for(promotion.id, promotion.version)


def _out(promotion: Promotion, response: Response) -> PromotionOut:
    response.headers["ETag"] = _etag(promotion)
    return promotion_out(promotion, utcnow())


@router.get("", response_model=PromotionList, responses=problem_responses(401, 403, 422))
async def list_promotions(
    page: PageParams = Depends(page_params),
    trigger: Literal["automatic", "coupon"] | None = Query(default=None),
    is_active: bool | None = Query(default=None),
    status: Literal["inactive", "scheduled", "running", "ended"] | None = Query(
        default=None, description="scheduled/running/ended: of active promotions, by their window now"),
    channel_id: str | None = Query(default=None, max_length=36, description="Promotions that apply in it"),
    code: str | None = Query(default=None, max_length=80, description="The promotion owning this code"),
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PromotionList:
    """Newest first."""
    parsed = parse_id(channel_id) if channel_id is not None else None
    if channel_id is not None and parsed is None:
        return PromotionList(items=[], next_cursor=None)
    now = utcnow()
    filters = service.PromotionFilter(trigger=trigger, is_active=is_active, channel_id=parsed, code=code,
                                      status=status, now=now)
    result = await service.list_promotions(session, filters, limit=page.limit, cursor=page.cursor)
    return PromotionList(items=[promotion_out(p, now) for p in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=PromotionOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_promotion(
    body: PromotionIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> PromotionOut:
    """Unknown channels, currency, customer groups, products, categories, collections or brands, a
    missing currency for amounts, a window ending before it starts → 422 `promotion.invalid`
    naming each field; a code that exists already → 409 `promotion.code_taken`."""
    data = service.PromotionData(**body.model_dump(mode="json", include=_SETTINGS) | {
        "starts_at": body.starts_at, "ends_at": body.ends_at})
    promotion = await service.create_promotion(session, data, codes=body.codes)
    response.headers["Location"] = f"/admin/promotions/{promotion.id}"
    return _out(promotion, response)


@router.get("/{promotion_id}", response_model=PromotionOut, responses=problem_responses(401, 403, 404))
async def get_promotion(
    promotion_id: str, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> PromotionOut:
    return _out(await service.get_promotion(session, promotion_id), response)


@router.patch("/{promotion_id}", response_model=PromotionOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_promotion(
    promotion_id: str, body: PromotionUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PromotionOut:
    """Change some settings (the others keep their value). A usage limit or budget below what was
    used already → 422; making a coupon promotion that has codes automatic → 409
    `promotion.not_a_coupon`."""
    promotion = await service.get_promotion(session, promotion_id, lock=True)
    check_if_match(if_match, _etag(promotion))
    current = promotion_out(promotion, utcnow()).model_dump(mode="json", include=_SETTINGS)
    changes = body.model_dump(mode="json", exclude_unset=True)
    for required in _REQUIRED:
        if changes.get(required, "") is None:
            changes.pop(required)
    merged = current | changes
    # datetimes stay datetimes (model_dump(mode="json") made strings of them)
    merged["starts_at"] = body.starts_at if "starts_at" in changes else promotion.starts_at
    merged["ends_at"] = body.ends_at if "ends_at" in changes else promotion.ends_at
    promotion = await service.update_promotion(session, promotion, service.PromotionData(**merged))
    return _out(promotion, response)


@router.delete("/{promotion_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 412))
async def delete_promotion(
    promotion_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """Delete a promotion and its codes; one that orders used → 409 `promotion.in_use` (deactivate it)."""
    promotion = await service.get_promotion(session, promotion_id, lock=True)
    check_if_match(if_match, _etag(promotion))
    await service.delete_promotion(session, promotion)
    return Response(status_code=204)


@router.post("/{promotion_id}/activate", response_model=PromotionOut,
             responses=problem_responses(401, 403, 404, 412))
async def activate(
    promotion_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PromotionOut:
    promotion = await service.get_promotion(session, promotion_id, lock=True)
    check_if_match(if_match, _etag(promotion))
    return _out(await service.set_active(session, promotion, True), response)


@router.post("/{promotion_id}/deactivate", response_model=PromotionOut,
             responses=problem_responses(401, 403, 404, 412))
async def deactivate(
    promotion_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PromotionOut:
    """Carts stop getting it at once; orders that used it keep their discount."""
    promotion = await service.get_promotion(session, promotion_id, lock=True)
    check_if_match(if_match, _etag(promotion))
    return _out(await service.set_active(session, promotion, False), response)


@router.get("/{promotion_id}/stats", response_model=StatsOut, responses=problem_responses(401, 403, 404))
async def promotion_stats(
    promotion_id: str, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> StatsOut:
    """Uses and amount granted (counters kept exact at order placement), orders, distinct
    customers, and how many codes were used."""
    promotion = await service.get_promotion(session, promotion_id)
    return stats_out(await service.stats(session, promotion))


# ---------------------------------------------------------------------------------------------
# codes


@router.get("/{promotion_id}/codes", response_model=CodeList, responses=problem_responses(401, 403, 404, 422))
async def list_codes(
    promotion_id: str, page: PageParams = Depends(page_params),
    batch_id: str | None = Query(default=None, max_length=36, description="Codes of one bulk generation"),
    used: bool | None = Query(default=None, description="true: used at least once; false: never used"),
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CodeList:
    promotion = await service.get_promotion(session, promotion_id)
    batch = parse_id(batch_id) if batch_id is not None else None
    if batch_id is not None and batch is None:
        return CodeList(items=[], next_cursor=None)
    result = await service.list_codes(session, promotion, batch_id=batch, used=used, limit=page.limit,
                                      cursor=page.cursor)
    return CodeList(items=[code_out(c) for c in result.items], next_cursor=result.next_cursor)


@router.post("/{promotion_id}/codes", status_code=201, response_model=CodesAdded,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
async def add_codes(
    promotion_id: str, body: CodesIn, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CodesAdded:
    """Add up to 1000 codes (case-insensitive; stored upper-case), all or none: one that exists on
    any promotion or is given twice → 409 `promotion.code_taken` naming each; an automatic
    promotion → 409 `promotion.not_a_coupon`."""
    promotion = await service.get_promotion(session, promotion_id)
    return CodesAdded(added=await service.add_codes(session, promotion, body.codes, max_uses=body.max_uses))


@router.post("/{promotion_id}/codes/generate", status_code=201, response_model=GeneratedOut,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
@idempotent
async def generate_codes(
    promotion_id: str, body: GenerateIn, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> GeneratedOut:
    """Generate up to 100,000 unique random codes in one go: `prefix` + `length` characters
    without look-alikes (no 0/O, 1/I/L), single-use by default. Fetch them with the export (CSV)
    or the list filtered by `batch_id`. Honours `Idempotency-Key` (a retry makes no second batch).
    A length too short for the count → 422 `promotion.invalid`."""
    promotion = await service.get_promotion(session, promotion_id)
    generated = await service.generate_codes(session, promotion, count=body.count, prefix=body.prefix,
                                             length=body.length, max_uses=body.max_uses)
    return GeneratedOut(
        batch_id=str(generated.batch_id), count=generated.count,
        export_url=f"/admin/promotions/{promotion.id}/codes/export?batch_id={generated.batch_id}",
    )


@router.get("/{promotion_id}/codes/export", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "code,max_uses,uses,batch_id,created_at"},
                       **problem_responses(401, 403, 404)})
async def export_codes(
    promotion_id: str, request: Request,
    batch_id: str | None = Query(default=None, max_length=36, description="Only the codes of one bulk generation"),
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> StreamingResponse:
    """All of the promotion's codes (or one batch's) as CSV, streamed in chunks."""
    promotion = await service.get_promotion(session, promotion_id)
    batch = parse_id(batch_id) if batch_id is not None else None
    # The request's session closes when this returns; the stream reads with sessions of its own.
    factory: async_sessionmaker[AsyncSession] = request.app.state.db.read_sessionmaker
    filename = f"codes-{promotion.id}" + (f"-{batch}" if batch else "") + ".csv"
    if batch_id is not None and batch is None:
        batch = uuid.UUID(int=0)  # matches nothing: an empty file
    return StreamingResponse(_csv(factory, promotion.id, batch), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _csv(
    factory: async_sessionmaker[AsyncSession], promotion_id: uuid.UUID, batch_id: uuid.UUID | None
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "max_uses", "uses", "batch_id", "created_at"])
    after: uuid.UUID | None = None
    while True:
        async with factory() as session:
            chunk = await service.code_chunk(session, promotion_id, batch_id=batch_id, after=after,
                                             limit=_EXPORT_CHUNK)
        for code in chunk:
            writer.writerow([code.code, "" if code.max_uses is None else code.max_uses, code.uses,
                             code.batch_id or "", code.created_at.isoformat()])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if len(chunk) < _EXPORT_CHUNK:
            return
        after = chunk[-1].id


@router.delete("/{promotion_id}/codes/{code_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404))
async def delete_code(
    promotion_id: str, code_id: str, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """Remove a code (orders that used it keep it on their redemption records)."""
    promotion = await service.get_promotion(session, promotion_id)
    await service.delete_code(session, promotion, code_id)
    return Response(status_code=204)


routers = [router]
