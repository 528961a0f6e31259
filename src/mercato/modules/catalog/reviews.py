"""Customer reviews: writing, moderation, helpful votes and the product's aggregate rating.

The aggregate (`products.rating_avg` in hundredths of a star, `products.rating_count`) counts
approved reviews only. Every step that moves a review into or out of the approved set recomputes
it in the same transaction, under the product's row lock, so two moderators never interleave their
counts; then the listing row is refreshed and the cached product detail invalidated after commit.

Locks are taken in one order: the review row, then the product row.

Helpful votes: the review row is locked first, so the old vote is read and the count adjusted by
the exact delta with no lost update, whatever the number of concurrent voters.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Boolean, String, Uuid, and_, column, delete, func, or_, select, table, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.db import after_commit
from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.pagination import InvalidCursor, Page, SortKey, keyset_page
from mercato.modules import identity
from mercato.modules.catalog import listing
from mercato.modules.catalog.detail_cache import invalidate_product
from mercato.modules.catalog.errors import ProductNotFound, UnknownChannel
from mercato.modules.catalog.models import Product, ProductListing, Review, ReviewVote, Variant
from mercato.modules.catalog.reviews_errors import (
    AlreadyReviewed,
    CommentRequired,
    InvalidTransition,
    InvalidVariant,
    OwnReview,
    ReviewNotFound,
)

# The channels table read by name, as its foreign keys name it, never through its models
# (the same stance as storefront.py); swap for the channels module's public lookup.
_channels = table("channels", column("id", Uuid()), column("code", String()), column("is_active", Boolean()))

ReviewSort = Literal["newest", "helpful"]
ReviewStatus = Literal["pending", "approved", "rejected"]

_REF_MAX = 200
_CHANNEL_MAX = 50
DEFAULT_AUTHOR = "Customer"

_STORE_SORTS: dict[str, tuple[str, list[SortKey]]] = {
    "newest": ("n", [SortKey(Review.created_at, descending=True), SortKey(Review.id, descending=True)]),
    "helpful": ("h", [SortKey(Review.helpful_count, descending=True), SortKey(Review.created_at, descending=True),
                      SortKey(Review.id, descending=True)]),
}


@dataclass(frozen=True)
class RatingSummary:
    rating_avg: int  # hundredths of a star: 435 is 4.35
    rating_count: int
    histogram: dict[int, int]  # every rating 1..5, approved reviews only


@dataclass(frozen=True)
class ReviewPage:
    product_id: uuid.UUID
    summary: RatingSummary
    page: Page[Review]


@dataclass(frozen=True)
class NewReview:
    rating: int
    title: str
    body: str
    variant_id: uuid.UUID | None
    author_name: str | None


@dataclass(frozen=True)
class ReviewChanges:
    rating: int | None = None
    title: str | None = None
    body: str | None = None


# ---------------------------------------------------------------------------------------------
# seams


async def verified_purchase(
    session: AsyncSession, customer_id: uuid.UUID, product_id: uuid.UUID, variant_id: uuid.UUID | None
) -> bool:
    """Whether the customer bought the product (or that variant). There are no orders yet, so no
    review is verified; the orders module will answer this through its public `__init__`
    (e.g. `orders.has_purchased(session, customer_id, product_id, variant_id)`)."""
    return False


async def _author_name(session: AsyncSession, customer_id: uuid.UUID, supplied: str | None) -> str:
    """The public name on a review: what the customer chose, else first name plus last initial."""
    if supplied:
        return supplied
    return await identity.public_name(session, customer_id) or DEFAULT_AUTHOR


# ---------------------------------------------------------------------------------------------
# lookups


async def visible_product_id(session: AsyncSession, ref: str, channel: str) -> uuid.UUID:
    """The id of the product `ref` (id or slug) when it is published and listed in `channel`."""
    if not 0 < len(channel) <= _CHANNEL_MAX:
        raise UnknownChannel(channel)
    if not 0 < len(ref) <= _REF_MAX:
        raise ProductNotFound()
    ref_id = parse_id(ref)
    listing_ref = ProductListing.slug == ref if ref_id is None else or_(
        ProductListing.product_id == ref_id, ProductListing.slug == ref
    )
    stmt = (
        select(_channels.c.id, Product.id.label("product_id"))
        .select_from(_channels)
        .outerjoin(ProductListing, and_(ProductListing.channel_id == _channels.c.id, listing_ref))
        .outerjoin(Product, and_(Product.id == ProductListing.product_id, Product.status == "published"))
        .where(_channels.c.code == channel, _channels.c.is_active.is_(True))
        .order_by(Product.id.is_(None), *([(Product.id == ref_id).desc()] if ref_id is not None else []))
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        raise UnknownChannel(channel)
    if row.product_id is None:
        raise ProductNotFound()
    product_id: uuid.UUID = row.product_id
    return product_id


async def lock_review(session: AsyncSession, review_id: str) -> Review:
    parsed = parse_id(review_id)
    if parsed is None:
        raise ReviewNotFound()
    review = (await session.execute(
        select(Review).where(Review.id == parsed).with_for_update()
    )).scalar_one_or_none()
    if review is None:
        raise ReviewNotFound()
    return review


async def get_review(session: AsyncSession, review_id: str) -> Review:
    parsed = parse_id(review_id)
    review = await session.get(Review, parsed) if parsed is not None else None
    if review is None:
        raise ReviewNotFound()
    return review


async def own_review(session: AsyncSession, customer_id: uuid.UUID, review_id: str, *, lock: bool = False) -> Review:
    """The customer's own review; someone else's is as unknown as a missing one (404)."""
    review = await lock_review(session, review_id) if lock else await get_review(session, review_id)
    if review.customer_id != customer_id:
        raise ReviewNotFound()
    return review


# ---------------------------------------------------------------------------------------------
# storefront reads


def _split_cursor(cursor: str | None, tag: str) -> str | None:
    if cursor is None:
        return None
    cursor_tag, dot, inner = cursor.partition(".")
    if cursor_tag != tag or not dot or not inner:
        raise InvalidCursor(
            "The cursor is not valid for this list.",
            errors=[FieldError("cursor", "invalid", "Use next_cursor from a previous page, with the same sort.")],
        )
    return inner


async def rating_summary(session: AsyncSession, product_id: uuid.UUID) -> RatingSummary:
    """The stored aggregate plus a histogram of approved ratings, in one statement."""
    counts = (
        select(Review.rating, func.count().label("n"))
        .where(Review.product_id == product_id, Review.status == "approved")
        .group_by(Review.rating)
        .subquery()
    )
    histogram_json = select(func.coalesce(func.jsonb_object_agg(counts.c.rating, counts.c.n), text("'{}'::jsonb")))
    row = (await session.execute(
        select(Product.rating_avg, Product.rating_count, histogram_json.scalar_subquery().label("histogram"))
        .where(Product.id == product_id)
    )).one()
    raw: dict[str, Any] = row.histogram or {}
    histogram = {rating: int(raw.get(str(rating), 0)) for rating in range(1, 6)}
    return RatingSummary(rating_avg=row.rating_avg, rating_count=row.rating_count, histogram=histogram)


async def list_product_reviews(
    session: AsyncSession, ref: str, channel: str, *, sort: ReviewSort, limit: int, cursor: str | None
) -> ReviewPage:
    """Approved reviews of a channel-visible product, newest or most helpful first (three statements)."""
    tag, keys = _STORE_SORTS[sort]
    inner = _split_cursor(cursor, tag)
    product_id = await visible_product_id(session, ref, channel)
    summary = await rating_summary(session, product_id)
    stmt = select(Review).where(Review.product_id == product_id, Review.status == "approved")
    page = await keyset_page(session, stmt, keys, limit=limit, cursor=inner)
    next_cursor = f"{tag}.{page.next_cursor}" if page.next_cursor else None
    return ReviewPage(product_id, summary, Page(page.items, next_cursor))


async def list_my_reviews(
    session: AsyncSession, customer_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[Review]:
    stmt = select(Review).where(Review.customer_id == customer_id)
    keys = [SortKey(Review.created_at, descending=True), SortKey(Review.id, descending=True)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


# ---------------------------------------------------------------------------------------------
# customer writes


async def create_review(
    session: AsyncSession, customer_id: uuid.UUID, ref: str, channel: str, data: NewReview
) -> Review:
    """A pending review; one per customer per product (409 `review.already_reviewed`)."""
    product_id = await visible_product_id(session, ref, channel)
    if data.variant_id is not None:
        owner = (await session.execute(
            select(Variant.product_id).where(Variant.id == data.variant_id)
        )).scalar_one_or_none()
        if owner != product_id:
            raise InvalidVariant()
    author = await _author_name(session, customer_id, data.author_name)
    verified = await verified_purchase(session, customer_id, product_id, data.variant_id)
    # The unique index decides between concurrent first reviews; the loser gets the 409.
    stmt = (
        insert(Review)
        .values(product_id=product_id, variant_id=data.variant_id, customer_id=customer_id, author_name=author,
                rating=data.rating, title=data.title, body=data.body, status="pending",
                verified_purchase=verified, version=1)
        .on_conflict_do_nothing(index_elements=["product_id", "customer_id"])
        .returning(Review)
    )
    review = (await session.execute(stmt)).scalar_one_or_none()
    if review is None:
        raise AlreadyReviewed()
    return review


async def edit_review(
    session: AsyncSession, cache: Cache, review: Review, changes: ReviewChanges
) -> Review:
    """Apply the customer's edit; the review goes back to the moderation queue. `review` must be
    locked (own_review(..., lock=True))."""
    was_approved = review.status == "approved"
    if changes.rating is not None:
        review.rating = changes.rating
    if changes.title is not None:
        review.title = changes.title
    if changes.body is not None:
        review.body = changes.body
    review.status = "pending"
    review.moderation_comment = None
    review.moderated_by = None
    review.moderated_at = None
    review.version += 1
    await session.flush()
    if was_approved:
        await recompute_rating(session, cache, review.product_id)
    await session.refresh(review)
    return review


async def delete_review(session: AsyncSession, cache: Cache, review: Review) -> None:
    """Delete a (locked) review; the product's rating follows when it counted."""
    counted = review.status == "approved"
    product_id = review.product_id
    await session.delete(review)
    await session.flush()
    if counted:
        await recompute_rating(session, cache, product_id)


# ---------------------------------------------------------------------------------------------
# helpful votes


@dataclass(frozen=True)
class VoteResult:
    review_id: uuid.UUID
    helpful: bool | None  # the customer's vote now; None once withdrawn
    helpful_count: int


async def _votable(session: AsyncSession, customer_id: uuid.UUID, review_id: str) -> tuple[Review, bool | None]:
    """The approved review, locked, with the customer's current vote."""
    parsed = parse_id(review_id)
    if parsed is None:
        raise ReviewNotFound()
    row = (await session.execute(
        select(Review, ReviewVote.helpful)
        .outerjoin(ReviewVote, and_(ReviewVote.review_id == Review.id, ReviewVote.customer_id == customer_id))
        .where(Review.id == parsed)
        .with_for_update(of=Review)
    )).first()
    if row is None or row[0].status != "approved":
        raise ReviewNotFound()
    review: Review = row[0]
    if review.customer_id == customer_id:
        raise OwnReview()
    old: bool | None = row[1]
    return review, old


def _delta(old: bool | None, new: bool | None) -> int:
    return int(bool(new)) - int(bool(old))


async def _shift_helpful(session: AsyncSession, review_id: uuid.UUID, delta: int) -> int:
    count: int = (await session.execute(
        update(Review).where(Review.id == review_id)
        .values(helpful_count=Review.helpful_count + delta)
        .returning(Review.helpful_count)
        .execution_options(synchronize_session=False)
    )).scalar_one()
    return count


async def vote(session: AsyncSession, customer_id: uuid.UUID, review_id: str, helpful: bool) -> VoteResult:
    """Cast or change the customer's vote (one per review); 409 `review.own_review` on one's own."""
    review, old = await _votable(session, customer_id, review_id)
    await session.execute(
        insert(ReviewVote)
        .values(review_id=review.id, customer_id=customer_id, helpful=helpful)
        .on_conflict_do_update(index_elements=["review_id", "customer_id"], set_={"helpful": helpful})
    )
    count = review.helpful_count
    if delta := _delta(old, helpful):
        count = await _shift_helpful(session, review.id, delta)
    return VoteResult(review.id, helpful, count)


async def withdraw_vote(session: AsyncSession, customer_id: uuid.UUID, review_id: str) -> VoteResult:
    """Withdraw the customer's vote; withdrawing none changes nothing."""
    review, old = await _votable(session, customer_id, review_id)
    count = review.helpful_count
    if old is not None:
        await session.execute(
            delete(ReviewVote).where(ReviewVote.review_id == review.id, ReviewVote.customer_id == customer_id)
        )
        if delta := _delta(old, None):
            count = await _shift_helpful(session, review.id, delta)
    return VoteResult(review.id, None, count)


# ---------------------------------------------------------------------------------------------
# moderation


async def list_for_moderation(
    session: AsyncSession, *, status: ReviewStatus | None, product_id: uuid.UUID | None, limit: int,
    cursor: str | None,
) -> Page[Review]:
    """Oldest first: the moderation queue is worked from its front."""
    stmt = select(Review)
    if status is not None:
        stmt = stmt.where(Review.status == status)
    if product_id is not None:
        stmt = stmt.where(Review.product_id == product_id)
    keys = [SortKey(Review.created_at), SortKey(Review.id)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


_ALLOWED_FROM = {"approve": ("pending", "rejected"), "reject": ("pending", "approved")}


async def moderate(
    session: AsyncSession, cache: Cache, review: Review, action: Literal["approve", "reject"], *,
    comment: str | None, actor: str, at: datetime | None = None,
) -> Review:
    """Approve or reject a (locked) review; a rejection needs a comment (422 `review.comment_required`)."""
    comment = (comment or "").strip() or None
    if action == "reject" and comment is None:
        raise CommentRequired()
    if review.status not in _ALLOWED_FROM[action]:
        raise InvalidTransition(review.status, "approved" if action == "approve" else "rejected")
    review.status = "approved" if action == "approve" else "rejected"
    review.moderation_comment = comment
    review.moderated_by = actor
    review.moderated_at = at or utcnow()
    review.version += 1
    await session.flush()
    await recompute_rating(session, cache, review.product_id)
    await session.refresh(review)
    return review


async def recompute_rating(session: AsyncSession, cache: Cache, product_id: uuid.UUID) -> None:
    """Recount the product's approved reviews under its row lock; refresh listing and cache."""
    await recompute_ratings(session, [product_id])
    after_commit(session, lambda: invalidate_product(cache, product_id))


_RECOMPUTE = text("""
UPDATE products p
SET rating_avg = s.avg, rating_count = s.n
FROM (
    SELECT t.id,
           coalesce(round(avg(r.rating) * 100), 0)::int AS avg,
           count(r.id)::int AS n
    FROM unnest(CAST(:ids AS uuid[])) AS t(id)
    LEFT JOIN reviews r ON r.product_id = t.id AND r.status = 'approved'
    GROUP BY t.id
) s
WHERE p.id = s.id
""")


async def recompute_ratings(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> None:
    """Lock the products (in id order), recount, refresh their listing rows. The lock is its own
    statement so the recount's snapshot, taken after the lock is granted, sees every commit before."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    await session.execute(select(Product.id).where(Product.id.in_(ids)).order_by(Product.id).with_for_update())
    await session.execute(_RECOMPUTE, {"ids": ids})
    await listing.refresh(session, ids)
    # The ORM may hold stale rating values for these products in this session.
    wanted = set(ids)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Product) and loaded.id in wanted:
            session.expire(loaded, ["rating_avg", "rating_count"])
