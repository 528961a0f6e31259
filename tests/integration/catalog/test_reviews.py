"""Reviews over HTTP: the storefront list and summary, writing, editing, votes and moderation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Product, ProductListing, Review, ReviewVote
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import make_product, refresh
from tests.integration.catalog.review_factories import make_customers, make_review


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def published(session: AsyncSession, name: str = "Kettle", **kwargs: Any) -> Product:
    product = await make_product(session, name, **kwargs)
    await refresh(session, [product])
    return product


async def reviews_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Review))).scalar_one())


async def product_rating(session: AsyncSession, product: Product) -> tuple[int, int, int | None]:
    row = (await session.execute(
        select(Product.rating_avg, Product.rating_count).where(Product.id == product.id)
        .execution_options(populate_existing=True)
    )).one()
    listed = (await session.execute(
        select(ProductListing.rating_avg).where(ProductListing.product_id == product.id)
    )).scalars().first()
    return row.rating_avg, row.rating_count, listed


# ---------------------------------------------------------------------------------------------
# storefront list


async def test_list_shows_approved_reviews_with_summary_and_histogram(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
    assert_max_queries: Callable[[int], Any],
) -> None:
    product = await published(session)
    people = await make_customers(session, settings, 5)
    for person, rating, status in zip(people, [5, 4, 4, 1, 2], ["approved"] * 3 + ["pending", "rejected"],
                                      strict=True):
        await make_review(session, product, person, rating=rating, status=status, title=f"r{rating}")
    # The stored aggregate is what moderation maintains; set it as moderation would have.
    product.rating_avg, product.rating_count = 433, 3
    await session.commit()

    with assert_max_queries(3):
        response = await client.get(f"/store/products/{product.slug}/reviews")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"] == {"rating_avg": 433, "rating_count": 3,
                               "histogram": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}}
    assert sorted(item["rating"] for item in body["items"]) == [4, 4, 5]
    assert body["product_id"] == str(product.id)
    assert set(body["items"][0]) == {"id", "product_id", "variant_id", "author_name", "rating", "title", "body",
                                     "verified_purchase", "helpful_count", "created_at"}


async def test_list_is_keyset_paginated_in_both_sorts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    people = await make_customers(session, settings, 5)
    made = [await make_review(session, product, p, helpful_count=h) for p, h in zip(people, [3, 9, 0, 9, 1],
                                                                                     strict=True)]
    await session.commit()

    for sort, expected in (
        ("newest", sorted(made, key=lambda r: (r.created_at, r.id), reverse=True)),
        ("helpful", sorted(made, key=lambda r: (r.helpful_count, r.created_at, r.id), reverse=True)),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(f"/store/products/{product.id}/reviews", params=params)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [str(r.id) for r in expected], sort

    first = (await client.get(f"/store/products/{product.id}/reviews", params={"limit": 2})).json()
    wrong = await client.get(f"/store/products/{product.id}/reviews",
                             params={"sort": "helpful", "cursor": first["next_cursor"]})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "pagination.invalid_cursor"


@pytest.mark.parametrize("status", ["draft", "archived"])
async def test_list_of_an_invisible_product_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, status: str
) -> None:
    product = await published(session, status=status)
    unpriced_in_us = await published(session, "Only EU")
    await session.commit()
    for path, params in ((f"/store/products/{product.slug}/reviews", {}),
                         (f"/store/products/{unpriced_in_us.slug}/reviews", {"channel": "web-us"}),
                         ("/store/products/no-such-thing/reviews", {}),
                         (f"/store/products/{uuid.uuid4()}/reviews", {})):
        response = await client.get(path, params=params)
        assert response.status_code == 404, path
        assert response.json()["code"] == "catalog.product_not_found"
    unknown = await client.get(f"/store/products/{unpriced_in_us.slug}/reviews", params={"channel": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "catalog.unknown_channel"


# ---------------------------------------------------------------------------------------------
# writing


async def test_customer_writes_a_pending_review_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    (jane,) = await make_customers(session, settings, 1, first_name="Jane", last_name="doe")
    await session.commit()
    variant_id = (await client.get(f"/store/products/{product.id}")).json()["variants"][0]["id"]

    response = await client.post(f"/store/products/{product.slug}/reviews", headers=jane.auth,
                                 json={"rating": 4, "title": " Good ", "body": "Boils fast.\nQuiet.",
                                       "variant_id": variant_id})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["author_name"] == "Jane d."
    assert body["title"] == "Good"
    assert body["verified_purchase"] is False
    assert body["variant_id"] == variant_id
    assert response.headers["location"] == f"/store/me/reviews/{body['id']}"

    again = await client.post(f"/store/products/{product.id}/reviews", headers=jane.auth, json={"rating": 1})
    assert again.status_code == 409
    assert again.json()["code"] == "review.already_reviewed"
    assert await reviews_count(session) == 1

    # Pending reviews are not shown.
    listed = (await client.get(f"/store/products/{product.id}/reviews")).json()
    assert listed["items"] == []


async def test_chosen_author_name_wins(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    product = await published(session)
    (jane,) = await make_customers(session, settings, 1, first_name="", last_name="")
    await session.commit()
    default = await client.post(f"/store/products/{product.id}/reviews", headers=jane.auth, json={"rating": 3})
    assert default.json()["author_name"] == "Customer"
    other = await published(session, "Toaster")
    await session.commit()
    chosen = await client.post(f"/store/products/{other.id}/reviews", headers=jane.auth,
                               json={"rating": 3, "author_name": "  Kettle fan "})
    assert chosen.json()["author_name"] == "Kettle fan"


@pytest.mark.parametrize(("payload", "field"), [
    ({"rating": 0}, "rating"),
    ({"rating": 6}, "rating"),
    ({"rating": "5"}, "rating"),
    ({}, "rating"),
    ({"rating": 5, "title": "x" * 201}, "title"),
    ({"rating": 5, "body": "x" * 5001}, "body"),
    ({"rating": 5, "body": "bell\x07"}, "body"),
    ({"rating": 5, "author_name": "   "}, "author_name"),
    ({"rating": 5, "surprise": 1}, "surprise"),
])
async def test_bad_reviews_are_refused_and_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, payload: dict[str, Any], field: str
) -> None:
    product = await published(session)
    (jane,) = await make_customers(session, settings)
    await session.commit()
    response = await client.post(f"/store/products/{product.id}/reviews", headers=jane.auth, json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation.invalid"
    assert any(field in error["field"] for error in response.json()["errors"]), response.json()
    assert await reviews_count(session) == 0


async def test_variant_must_belong_to_the_product(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    other = await published(session, "Toaster")
    (jane,) = await make_customers(session, settings)
    await session.commit()
    other_variant = (await client.get(f"/store/products/{other.id}")).json()["variants"][0]["id"]
    for variant_id in (other_variant, "not-a-uuid", str(uuid.uuid4())):
        response = await client.post(f"/store/products/{product.id}/reviews", headers=jane.auth,
                                     json={"rating": 5, "variant_id": variant_id})
        assert response.status_code == 422, variant_id
        assert response.json()["code"] == "review.invalid_variant"
        assert response.json()["errors"][0]["field"] == "variant_id"
    assert await reviews_count(session) == 0


async def test_writing_needs_a_customer_and_a_visible_product(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, staff_token: str
) -> None:
    product = await published(session)
    draft = await published(session, "Draft", status="draft")
    (jane,) = await make_customers(session, settings)
    await session.commit()
    anonymous = await client.post(f"/store/products/{product.id}/reviews", json={"rating": 5})
    assert anonymous.status_code == 401
    staff = await client.post(f"/store/products/{product.id}/reviews", headers=bearer(staff_token),
                              json={"rating": 5})
    assert staff.status_code == 401
    hidden = await client.post(f"/store/products/{draft.id}/reviews", headers=jane.auth, json={"rating": 5})
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "catalog.product_not_found"
    assert await reviews_count(session) == 0


# ---------------------------------------------------------------------------------------------
# the customer's own reviews


async def test_editing_an_approved_review_sends_it_back_and_updates_the_rating(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    jane, john = await make_customers(session, settings, 2)
    mine = await make_review(session, product, jane, rating=5)
    await make_review(session, product, john, rating=2)
    await session.commit()
    staff = bearer(staff_token_for(settings, ["catalog:write"]))
    # Recompute through moderation first: reject and re-approve John's to get a true aggregate.
    assert (await client.post(f"/admin/reviews/{mine.id}/reject", headers=staff,
                              json={"comment": "spam?"})).status_code == 200
    assert (await client.post(f"/admin/reviews/{mine.id}/approve", headers=staff)).status_code == 200
    assert await product_rating(session, product) == (350, 2, 350)

    listed = (await client.get("/store/me/reviews", headers=jane.auth)).json()
    assert [item["id"] for item in listed["items"]] == [str(mine.id)]
    etag = (await client.get(f"/store/me/reviews/{mine.id}", headers=jane.auth)).headers["etag"]

    stale = await client.patch(f"/store/me/reviews/{mine.id}", headers={**jane.auth, "if-match": '"stale"'},
                               json={"rating": 1})
    assert stale.status_code == 412
    edited = await client.patch(f"/store/me/reviews/{mine.id}", headers={**jane.auth, "if-match": etag},
                                json={"rating": 1, "body": "Broke."})
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "pending"
    assert edited.json()["moderation_comment"] is None
    assert edited.headers["etag"] != etag
    assert await product_rating(session, product) == (200, 1, 200)

    theirs = await client.patch(f"/store/me/reviews/{mine.id}", headers=john.auth, json={"rating": 5})
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "review.not_found"


async def test_deleting_an_approved_review_updates_the_rating(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    jane, john = await make_customers(session, settings, 2)
    mine = await make_review(session, product, jane, rating=5, status="pending")
    await make_review(session, product, john, rating=4, status="pending")
    await session.commit()
    staff = bearer(staff_token_for(settings, ["catalog:write"]))
    for review in (await client.get("/admin/reviews", headers=bearer(staff_token_for(settings, ["catalog:read"])),
                                    params={"status": "pending"})).json()["items"]:
        assert (await client.post(f"/admin/reviews/{review['id']}/approve", headers=staff)).status_code == 200
    assert await product_rating(session, product) == (450, 2, 450)

    assert (await client.delete(f"/store/me/reviews/{mine.id}", headers=john.auth)).status_code == 404
    gone = await client.delete(f"/store/me/reviews/{mine.id}", headers=jane.auth)
    assert gone.status_code == 204
    assert await product_rating(session, product) == (400, 1, 400)
    assert (await client.get("/store/me/reviews", headers=jane.auth)).json()["items"] == []


# ---------------------------------------------------------------------------------------------
# helpful votes


async def test_votes_count_once_per_customer_and_can_change_or_be_withdrawn(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    author, a, b = await make_customers(session, settings, 3)
    review = await make_review(session, product, author)
    await session.commit()
    url = f"/store/reviews/{review.id}/vote"

    assert (await client.put(url, headers=a.auth, json={"helpful": True})).json()["helpful_count"] == 1
    assert (await client.put(url, headers=a.auth, json={"helpful": True})).json()["helpful_count"] == 1
    assert (await client.put(url, headers=b.auth, json={"helpful": True})).json()["helpful_count"] == 2
    changed = await client.put(url, headers=b.auth, json={"helpful": False})
    assert changed.json() == {"review_id": str(review.id), "helpful": False, "helpful_count": 1}
    withdrawn = await client.delete(url, headers=a.auth)
    assert withdrawn.json() == {"review_id": str(review.id), "helpful": None, "helpful_count": 0}
    assert (await client.delete(url, headers=a.auth)).json()["helpful_count"] == 0
    votes = (await session.execute(select(ReviewVote.customer_id, ReviewVote.helpful))).all()
    assert [(row[0], row[1]) for row in votes] == [(b.id, False)]


async def test_votes_refused(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    product = await published(session)
    author, voter = await make_customers(session, settings, 2)
    review = await make_review(session, product, author)
    other_product = await published(session, "Toaster")
    pending = await make_review(session, other_product, author, status="pending")
    await session.commit()

    own = await client.put(f"/store/reviews/{review.id}/vote", headers=author.auth, json={"helpful": True})
    assert own.status_code == 409
    assert own.json()["code"] == "review.own_review"
    for review_id in (pending.id, uuid.uuid4(), "nope"):
        missing = await client.put(f"/store/reviews/{review_id}/vote", headers=voter.auth, json={"helpful": True})
        assert missing.status_code == 404
        assert missing.json()["code"] == "review.not_found"
    bad = await client.put(f"/store/reviews/{review.id}/vote", headers=voter.auth, json={"helpful": "yes"})
    assert bad.status_code == 422
    anonymous = await client.put(f"/store/reviews/{review.id}/vote", json={"helpful": True})
    assert anonymous.status_code == 401
    assert (await session.execute(select(func.count()).select_from(ReviewVote))).scalar_one() == 0
    await session.refresh(review)
    assert review.helpful_count == 0


# ---------------------------------------------------------------------------------------------
# moderation


async def test_moderation_needs_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    (jane,) = await make_customers(session, settings)
    review = await make_review(session, product, jane, status="pending")
    await session.commit()
    reader = bearer(staff_token_for(settings, ["catalog:read"]))
    nobody = bearer(staff_token_for(settings, ["orders:read"]))

    assert (await client.get("/admin/reviews")).status_code == 401
    assert (await client.get("/admin/reviews", headers=nobody)).status_code == 403
    assert (await client.get("/admin/reviews", headers=jane.auth)).status_code == 403
    assert (await client.get("/admin/reviews", headers=reader)).status_code == 200
    for action in ("approve", "reject"):
        refused = await client.post(f"/admin/reviews/{review.id}/{action}", headers=reader, json={"comment": "x"})
        assert refused.status_code == 403
    assert (await client.delete(f"/admin/reviews/{review.id}", headers=reader)).status_code == 403
    await session.refresh(review)
    assert review.status == "pending"


async def test_approve_and_reject_maintain_the_rating(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    people = await make_customers(session, settings, 3)
    made = [await make_review(session, product, p, rating=r, status="pending")
            for p, r in zip(people, [5, 4, 4], strict=True)]
    await session.commit()
    writer = bearer(staff_token_for(settings, ["catalog:write", "catalog:read"]))

    queue = (await client.get("/admin/reviews", headers=writer, params={"status": "pending", "limit": 2})).json()
    assert [item["id"] for item in queue["items"]] == [str(made[0].id), str(made[1].id)]
    rest = (await client.get("/admin/reviews", headers=writer,
                             params={"status": "pending", "cursor": queue["next_cursor"]})).json()
    assert [item["id"] for item in rest["items"]] == [str(made[2].id)]

    for review in made:
        response = await client.post(f"/admin/reviews/{review.id}/approve", headers=writer)
        assert response.status_code == 200, response.text
    approved = response.json()
    assert approved["status"] == "approved"
    assert approved["moderated_by"].startswith("staff:")
    assert await product_rating(session, product) == (433, 3, 433)

    rejected = await client.post(f"/admin/reviews/{made[0].id}/reject", headers=writer,
                                 json={"comment": "Off topic"})
    assert rejected.status_code == 200
    assert rejected.json()["moderation_comment"] == "Off topic"
    assert await product_rating(session, product) == (400, 2, 400)

    summary = (await client.get(f"/store/products/{product.id}/reviews")).json()["summary"]
    assert summary == {"rating_avg": 400, "rating_count": 2, "histogram": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 0}}

    gone = await client.delete(f"/admin/reviews/{made[1].id}", headers=writer)
    assert gone.status_code == 204
    assert await product_rating(session, product) == (400, 1, 400)


async def test_bad_moderation_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    product = await published(session)
    jane, john = await make_customers(session, settings, 2)
    pending = await make_review(session, product, jane, status="pending")
    approved = await make_review(session, product, john, status="approved")
    await session.commit()
    writer = bearer(staff_token_for(settings, ["catalog:write"]))

    for payload in ({}, {"comment": "   "}):
        refused = await client.post(f"/admin/reviews/{pending.id}/reject", headers=writer, json=payload)
        assert refused.status_code == 422
        assert refused.json()["code"] == "review.comment_required"
    again = await client.post(f"/admin/reviews/{approved.id}/approve", headers=writer)
    assert again.status_code == 409
    assert again.json()["code"] == "review.invalid_transition"
    stale = await client.post(f"/admin/reviews/{pending.id}/approve", headers={**writer, "if-match": '"old"'})
    assert stale.status_code == 412
    for review_id in (uuid.uuid4(), "nope"):
        missing = await client.post(f"/admin/reviews/{review_id}/approve", headers=writer)
        assert missing.status_code == 404
        assert missing.json()["code"] == "review.not_found"
    await session.refresh(pending)
    assert (pending.status, pending.version, pending.moderation_comment) == ("pending", 1, None)
    assert await product_rating(session, product) == (0, 0, 0)


async def test_my_reviews_are_mine_alone(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A customer sees only their own reviews; another customer's list is empty."""
    product = await published(session)
    jane, john = await make_customers(session, settings, 2)
    await make_review(session, product, jane, status="rejected")
    await session.commit()
    assert len((await client.get("/store/me/reviews", headers=jane.auth)).json()["items"]) == 1
    assert (await client.get("/store/me/reviews", headers=john.auth)).json()["items"] == []
    assert (await client.get("/store/me/reviews")).status_code == 401
