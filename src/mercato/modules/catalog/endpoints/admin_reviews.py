"""/admin/reviews: the moderation queue (read: `catalog:read`; approve, reject, delete: `catalog:write`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import reviews
from mercato.modules.catalog.models import Review
from mercato.modules.catalog.reviews_schemas import AdminReviewList, AdminReviewOut, ModerationIn, admin_review_out

router = APIRouter(prefix="/admin/reviews", tags=["admin: catalogue"], route_class=MercatoRoute)

READ = require_permission("catalog:read")
WRITE = require_permission("catalog:write")


def _cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def _etag(review: Review) -> str:
    return etag_for(review.id, review.version)


@router.get("", response_model=AdminReviewList, responses=problem_responses(401, 403, 422))
async def list_reviews(
    page: PageParams = Depends(page_params),
    status: reviews.ReviewStatus | None = Query(default=None, description="pending, approved or rejected"),
    product_id: str | None = Query(default=None, max_length=36, description="Only this product's reviews"),
    _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> AdminReviewList:
    """Reviews oldest first (the queue's front first), e.g. `?status=pending`."""
    parsed = parse_id(product_id) if product_id is not None else None
    if product_id is not None and parsed is None:
        return AdminReviewList(items=[], next_cursor=None)  # no product has that id
    result = await reviews.list_for_moderation(session, status=status, product_id=parsed, limit=page.limit,
                                               cursor=page.cursor)
    return AdminReviewList(items=[admin_review_out(r) for r in result.items], next_cursor=result.next_cursor)


@router.get("/{review_id}", response_model=AdminReviewOut, responses=problem_responses(401, 403, 404))
async def get_review(
    review_id: str, response: Response,
    _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> AdminReviewOut:
    review = await reviews.get_review(session, review_id)
    response.headers["ETag"] = _etag(review)
    return admin_review_out(review)


async def _moderate(
    action: Literal["approve", "reject"], review_id: str, body: ModerationIn | None, request: Request,
    response: Response, if_match: str | None, principal: Principal, session: AsyncSession,
) -> AdminReviewOut:
    review = await reviews.lock_review(session, review_id)
    check_if_match(if_match, _etag(review))
    review = await reviews.moderate(session, _cache(request), review, action,
                                    comment=body.comment if body else None, actor=principal.scope)
    response.headers["ETag"] = _etag(review)
    return admin_review_out(review)


@router.post("/{review_id}/approve", response_model=AdminReviewOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def approve(
    review_id: str, request: Request, response: Response, body: ModerationIn | None = None,
    if_match: str | None = Header(default=None, description="ETag of the version you saw (412 if stale)"),
    principal: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> AdminReviewOut:
    """Publish a pending (or previously rejected) review; the product's rating follows.
    Already approved → 409 `review.invalid_transition`."""
    return await _moderate("approve", review_id, body, request, response, if_match, principal, session)


@router.post("/{review_id}/reject", response_model=AdminReviewOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def reject(
    review_id: str, body: ModerationIn, request: Request, response: Response,
    if_match: str | None = Header(default=None, description="ETag of the version you saw (412 if stale)"),
    principal: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> AdminReviewOut:
    """Reject a pending (or approved) review with a comment for its author (none → 422
    `review.comment_required`); an approved one leaves the product's rating."""
    return await _moderate("reject", review_id, body, request, response, if_match, principal, session)


@router.delete("/{review_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 412))
async def delete_review(
    review_id: str, request: Request,
    if_match: str | None = Header(default=None, description="ETag of the version you saw (412 if stale)"),
    _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    review = await reviews.lock_review(session, review_id)
    check_if_match(if_match, _etag(review))
    await reviews.delete_review(session, _cache(request), review)
    return Response(status_code=204)


routers = [router]
