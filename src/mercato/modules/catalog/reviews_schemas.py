"""Request and response shapes of reviews (`/store/.../reviews`, `/store/me/reviews`, `/admin/reviews`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mercato.modules.catalog.models import Review
from mercato.modules.catalog.reviews import RatingSummary, VoteResult

# Plain text: line breaks and tabs are text, other control characters are not.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value.strip()


def _name(value: str) -> str:
    value = _plain(value)
    if not value:
        raise ValueError("must not be blank")
    return value


Title = Annotated[str, Field(max_length=200), AfterValidator(_plain)]
Body = Annotated[str, Field(max_length=5000), AfterValidator(_plain)]
Rating = Annotated[int, Field(ge=1, le=5, strict=True)]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Rating
    title: Title = ""
    body: Body = ""
    variant_id: str | None = Field(default=None, max_length=36, description="A variant of this product")
    author_name: Annotated[str, Field(max_length=100), AfterValidator(_name)] | None = Field(
        default=None, description="Public name; default: your first name and last initial"
    )


class ReviewEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Rating | None = None
    title: Title | None = None
    body: Body | None = None


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool = Field(strict=True)


class ModerationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, Field(max_length=2000), AfterValidator(_plain)] | None = Field(
        default=None, description="Shown to the author; required to reject"
    )


class ReviewOut(BaseModel):
    """A review as the storefront shows it."""

    id: str
    product_id: str
    variant_id: str | None
    author_name: str
    rating: int
    title: str
    body: str
    verified_purchase: bool
    helpful_count: int
    created_at: datetime


class MyReviewOut(ReviewOut):
    status: str
    moderation_comment: str | None
    updated_at: datetime


class AdminReviewOut(MyReviewOut):
    customer_id: str
    moderated_by: str | None
    moderated_at: datetime | None
    version: int


class SummaryOut(BaseModel):
    rating_avg: int = Field(description="Average of approved ratings in hundredths of a star: 435 means 4.35")
    rating_count: int
    histogram: dict[str, int] = Field(description="Approved reviews per rating, keys '1'..'5'")


class ProductReviewList(BaseModel):
    product_id: str
    summary: SummaryOut
    items: list[ReviewOut]
    next_cursor: str | None


class MyReviewList(BaseModel):
    items: list[MyReviewOut]
    next_cursor: str | None


class AdminReviewList(BaseModel):
    items: list[AdminReviewOut]
    next_cursor: str | None


class VoteOut(BaseModel):
    review_id: str
    helpful: bool | None = Field(description="Your vote now; null once withdrawn")
    helpful_count: int


def _common(review: Review) -> dict[str, object]:
    return {
        "id": str(review.id), "product_id": str(review.product_id),
        "variant_id": str(review.variant_id) if review.variant_id else None, "author_name": review.author_name,
        "rating": review.rating, "title": review.title, "body": review.body,
        "verified_purchase": review.verified_purchase, "helpful_count": review.helpful_count,
        "created_at": review.created_at,
    }


def review_out(review: Review) -> ReviewOut:
    return ReviewOut.model_validate(_common(review))


def my_review_out(review: Review) -> MyReviewOut:
    return MyReviewOut.model_validate({**_common(review), "status": review.status,
                                       "moderation_comment": review.moderation_comment,
                                       "updated_at": review.updated_at})


def admin_review_out(review: Review) -> AdminReviewOut:
    return AdminReviewOut.model_validate({
        **_common(review), "status": review.status, "moderation_comment": review.moderation_comment,
        "updated_at": review.updated_at, "customer_id": str(review.customer_id),
        "moderated_by": review.moderated_by, "moderated_at": review.moderated_at, "version": review.version,
    })


def summary_out(summary: RatingSummary) -> SummaryOut:
    return SummaryOut(rating_avg=summary.rating_avg, rating_count=summary.rating_count,
                      histogram={str(rating): n for rating, n in summary.histogram.items()})


def vote_out(result: VoteResult) -> VoteOut:
    return VoteOut(review_id=str(result.review_id), helpful=result.helpful, helpful_count=result.helpful_count)
