"""/store/products/{ref}/reviews, /store/me/reviews and /store/reviews/{id}/vote: customer reviews."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.settings import Settings
from mercato.kit.web.auth import Principal, require_customer
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import reviews
from mercato.modules.catalog.models import Review
from mercato.modules.catalog.reviews_errors import InvalidVariant
from mercato.modules.catalog.reviews_schemas import (
    MyReviewList,
    MyReviewOut,
    ProductReviewList,
    ReviewEditIn,
    ReviewIn,
    VoteIn,
    VoteOut,
    my_review_out,
    review_out,
    summary_out,
    vote_out,
)

product_reviews = APIRouter(prefix="/store/products", tags=["store: reviews"], route_class=MercatoRoute)
my_reviews = APIRouter(prefix="/store/me/reviews", tags=["store: reviews"], route_class=MercatoRoute)
votes = APIRouter(prefix="/store/reviews", tags=["store: reviews"], route_class=MercatoRoute)

ChannelParam = Annotated[
    str | None,
    Query(min_length=1, max_length=50, description="Channel code (default: the store's default channel)"),
]


def _channel(request: Request, channel: str | None) -> str:
    settings: Settings = request.app.state.settings
    return channel or settings.default_channel


def _cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def _customer_id(principal: Principal) -> uuid.UUID:
    return uuid.UUID(principal.id)


def _etag(review: Review) -> str:
    return etag_for(review.id, review.version)


@product_reviews.get("/{id_or_slug}/reviews", response_model=ProductReviewList,
                     responses=problem_responses(404, 422))
async def list_reviews(
    id_or_slug: str, request: Request,
    sort: reviews.ReviewSort = Query(default="newest", description="newest or helpful (most helpful first)"),
    page: PageParams = Depends(page_params),
    channel: ChannelParam = None,
    session: AsyncSession = Depends(get_session),
) -> ProductReviewList:
    """Approved reviews of a product visible in the channel, with the rating summary. A product
    not published or not listed in the channel → 404 `catalog.product_not_found`."""
    result = await reviews.list_product_reviews(session, id_or_slug, _channel(request, channel), sort=sort,
                                                limit=page.limit, cursor=page.cursor)
    return ProductReviewList(product_id=str(result.product_id), summary=summary_out(result.summary),
                             items=[review_out(r) for r in result.page.items], next_cursor=result.page.next_cursor)


@product_reviews.post("/{id_or_slug}/reviews", status_code=201, response_model=MyReviewOut,
                      responses=problem_responses(400, 401, 404, 409, 415, 422))
async def create_review(
    id_or_slug: str, body: ReviewIn, request: Request, response: Response,
    channel: ChannelParam = None,
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> MyReviewOut:
    """Write a review (pending until a moderator approves it). One per customer per product:
    a second → 409 `review.already_reviewed`. A variant of another product → 422 `review.invalid_variant`."""
    variant_id = None
    if body.variant_id is not None:
        variant_id = parse_id(body.variant_id)
        if variant_id is None:
            raise InvalidVariant()
    review = await reviews.create_review(
        session, _customer_id(principal), id_or_slug, _channel(request, channel),
        reviews.NewReview(rating=body.rating, title=body.title, body=body.body, variant_id=variant_id,
                          author_name=body.author_name),
    )
    response.headers["ETag"] = _etag(review)
    response.headers["Location"] = f"/store/me/reviews/{review.id}"
    return my_review_out(review)


@my_reviews.get("", response_model=MyReviewList, responses=problem_responses(401, 422))
async def list_my_reviews(
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> MyReviewList:
    """Your reviews in every state, newest first."""
    result = await reviews.list_my_reviews(session, _customer_id(principal), limit=page.limit, cursor=page.cursor)
    return MyReviewList(items=[my_review_out(r) for r in result.items], next_cursor=result.next_cursor)


@my_reviews.get("/{review_id}", response_model=MyReviewOut, responses=problem_responses(401, 404))
async def get_my_review(
    review_id: str, response: Response,
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> MyReviewOut:
    review = await reviews.own_review(session, _customer_id(principal), review_id)
    response.headers["ETag"] = _etag(review)
    return my_review_out(review)


@my_reviews.patch("/{review_id}", response_model=MyReviewOut,
                  responses=problem_responses(400, 401, 404, 412, 415, 422))
async def edit_my_review(
    review_id: str, body: ReviewEditIn, request: Request, response: Response,
    if_match: str | None = Header(default=None, description="ETag of the version you edited (412 if stale)"),
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> MyReviewOut:
    """Edit your review; it goes back to moderation (and leaves the product's rating until approved)."""
    review = await reviews.own_review(session, _customer_id(principal), review_id, lock=True)
    check_if_match(if_match, _etag(review))
    review = await reviews.edit_review(session, _cache(request), review,
                                       reviews.ReviewChanges(rating=body.rating, title=body.title, body=body.body))
    response.headers["ETag"] = _etag(review)
    return my_review_out(review)


@my_reviews.delete("/{review_id}", status_code=204, response_class=Response,
                   responses=problem_responses(401, 404, 412))
async def delete_my_review(
    review_id: str, request: Request,
    if_match: str | None = Header(default=None, description="ETag of the version you saw (412 if stale)"),
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> Response:
    review = await reviews.own_review(session, _customer_id(principal), review_id, lock=True)
    check_if_match(if_match, _etag(review))
    await reviews.delete_review(session, _cache(request), review)
    return Response(status_code=204)


@votes.put("/{review_id}/vote", response_model=VoteOut, responses=problem_responses(400, 401, 404, 409, 415, 422))
async def put_vote(
    review_id: str, body: VoteIn,
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> VoteOut:
    """Vote an approved review helpful or not (one vote per customer; voting again changes it).
    Your own review → 409 `review.own_review`."""
    return vote_out(await reviews.vote(session, _customer_id(principal), review_id, body.helpful))


@votes.delete("/{review_id}/vote", response_model=VoteOut, responses=problem_responses(401, 404, 409))
async def delete_vote(
    review_id: str,
    principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> VoteOut:
    """Withdraw your vote (withdrawing none is not an error)."""
    return vote_out(await reviews.withdraw_vote(session, _customer_id(principal), review_id))


routers = [product_reviews, my_reviews, votes]
