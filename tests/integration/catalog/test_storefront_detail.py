"""GET /store/products/{id or slug}: detail of a product listed in the channel, cached per product."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules import catalog
from mercato.modules.catalog.models import Product
from tests.integration.catalog.factories import (
    BASE_TIME,
    VariantSpec,
    make_brand,
    make_category,
    make_product,
    refresh,
)


async def _shirt(session: AsyncSession) -> Product:
    clothing = await make_category(session, "Clothing", slug="clothing")
    shirts = await make_category(session, "Shirts", parent=clothing, slug="shirts")
    brand = await make_brand(session, "Acme", slug="acme")
    product = await make_product(
        session, "Oxford shirt", slug="oxford-shirt", category=shirts, brand=brand,
        description="A shirt.", attributes={"material": "cotton"},
        images=["https://img.example/a.jpg", "https://img.example/b.jpg"],
        variants=[
            VariantSpec({"web-eu": 2999, "web-us": 3299}, sku="OX-S", name="Oxford S",
                        options={"size": "S", "colour": "Blue"}, compare_at={"web-eu": 3999}),
            VariantSpec({"web-eu": 2499}, sku="OX-M", name="Oxford M", options={"size": "M", "colour": "Blue"},
                        track_inventory=True),
            VariantSpec({"web-us": 100}, sku="OX-L", name="Oxford L", options={"size": "L", "colour": "Blue"}),
        ],
    )
    await refresh(session)
    await session.commit()
    return product


async def test_detail_by_id_and_by_slug(client: httpx.AsyncClient, session: AsyncSession) -> None:
    product = await _shirt(session)
    by_id = await client.get(f"/store/products/{product.id}")
    assert by_id.status_code == 200, by_id.text
    body = by_id.json()
    category_id = body["category"]["id"]
    assert body == {
        "id": str(product.id), "slug": "oxford-shirt", "name": "Oxford shirt", "description": "A shirt.",
        "brand": {"id": str(product.brand_id), "slug": "acme", "name": "Acme"},
        "category": {"id": str(product.category_id), "slug": "shirts", "name": "Shirts"},
        "attributes": {"material": "cotton"},
        "images": [{"url": "https://img.example/a.jpg", "alt": "Oxford shirt 0", "width": None, "height": None,
                    "renditions": []},
                   {"url": "https://img.example/b.jpg", "alt": "Oxford shirt 1", "width": None, "height": None,
                    "renditions": []}],
        "rating_avg": 0, "rating_count": 0,
        "price": {"amount": 2499, "currency": "EUR"},
        "in_stock": True,
        "variants": [
            {"id": body["variants"][0]["id"], "sku": "OX-S", "name": "Oxford S",
             "price": {"amount": 2999, "currency": "EUR"}, "compare_at_price": {"amount": 3999, "currency": "EUR"},
             "in_stock": True, "options": {"size": "S", "colour": "Blue"}},
            {"id": body["variants"][1]["id"], "sku": "OX-M", "name": "Oxford M",
             "price": {"amount": 2499, "currency": "EUR"}, "compare_at_price": None,
             "in_stock": False, "options": {"size": "M", "colour": "Blue"}},
        ],
    }
    assert category_id == str(product.category_id)
    by_slug = await client.get("/store/products/oxford-shirt")
    assert by_slug.status_code == 200
    assert by_slug.json() == body

    us = (await client.get("/store/products/oxford-shirt", params={"channel": "web-us"})).json()
    assert us["price"] == {"amount": 100, "currency": "USD"}
    assert [v["sku"] for v in us["variants"]] == ["OX-S", "OX-L"]


async def test_products_not_for_sale_in_the_channel_are_404(client: httpx.AsyncClient, session: AsyncSession) -> None:
    draft = await make_product(session, "Draft", status="draft")
    review = await make_product(session, "Review", status="in_review")
    archived = await make_product(session, "Archived", status="archived")
    unpriced = await make_product(session, "US only", prices={"web-us": 100})
    lapsed = await make_product(session, "Lapsed", variants=[VariantSpec({"web-eu": 100}, valid_to=BASE_TIME)])
    await refresh(session)
    await session.commit()
    refs = [ref for p in (draft, review, archived, unpriced, lapsed) for ref in (str(p.id), p.slug)]
    refs += [str(uuid.uuid4()), "no-such-product", "not-a-uuid-%00", "x" * 500, "12345"]
    for ref in refs:
        response = await client.get(f"/store/products/{ref}")
        assert response.status_code == 404, ref
        assert response.json()["code"] == "catalog.product_not_found"
    assert (await client.get(f"/store/products/{unpriced.id}", params={"channel": "web-us"})).status_code == 200


async def test_unknown_channel_is_422(client: httpx.AsyncClient, session: AsyncSession) -> None:
    product = await _shirt(session)
    response = await client.get(f"/store/products/{product.id}", params={"channel": "mars"})
    assert response.status_code == 422
    assert response.json()["code"] == "catalog.unknown_channel"


@pytest.mark.parametrize("by", ["id", "slug"])
async def test_detail_query_counts_uncached_and_cached(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any], by: str
) -> None:
    product = await _shirt(session)
    ref = str(product.id) if by == "id" else product.slug
    with assert_max_queries(1):  # the issue allows 4; the page is rendered by one statement
        first = await client.get(f"/store/products/{ref}")
    assert first.status_code == 200
    with assert_max_queries(0):
        second = await client.get(f"/store/products/{ref}")
    assert second.status_code == 200
    assert second.content == first.content
    with assert_max_queries(0):
        not_modified = await client.get(f"/store/products/{ref}", headers={"if-none-match": first.headers["etag"]})
    assert not_modified.status_code == 304
    # The other spelling of the same product shares the cached rendering.
    other = product.slug if by == "id" else str(product.id)
    with assert_max_queries(0):
        assert (await client.get(f"/store/products/{other}")).content == first.content
    # Each channel has its own rendering.
    with assert_max_queries(1):
        assert (await client.get(f"/store/products/{ref}", params={"channel": "web-us"})).status_code == 200


async def test_invalidate_product_makes_the_next_request_reread(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, assert_max_queries: Callable[[int], Any]
) -> None:
    product = await _shirt(session)
    before = await client.get(f"/store/products/{product.id}")
    assert before.json()["name"] == "Oxford shirt"
    await session.execute(update(Product).where(Product.id == product.id).values(name="Renamed shirt"))
    await refresh(session, [product])
    await session.commit()
    # Still the cached rendering: nothing told the cache.
    assert (await client.get(f"/store/products/{product.id}")).json()["name"] == "Oxford shirt"

    await catalog.invalidate_product(app.state.cache, product.id)
    with assert_max_queries(4) as counter:
        after = await client.get(f"/store/products/{product.id}")
    assert len(counter.statements) > 0
    assert after.json()["name"] == "Renamed shirt"
    assert after.headers["etag"] != before.headers["etag"]
    assert (await client.get(f"/store/products/{product.id}",
                             headers={"if-none-match": before.headers["etag"]})).status_code == 200
    assert (await client.get("/store/products/oxford-shirt")).json()["name"] == "Renamed shirt"


async def test_a_renamed_slug_stops_resolving_once_invalidated(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    product = await _shirt(session)
    assert (await client.get("/store/products/oxford-shirt")).status_code == 200
    await session.execute(update(Product).where(Product.id == product.id).values(slug="oxford-shirt-2"))
    await refresh(session, [product])
    await session.commit()
    await catalog.invalidate_product(app.state.cache, product.id)
    # Re-render under the new generation through the id; the old slug must not follow it there.
    assert (await client.get(f"/store/products/{product.id}")).json()["slug"] == "oxford-shirt-2"
    response = await client.get("/store/products/oxford-shirt")
    assert response.status_code == 404
    assert (await client.get("/store/products/oxford-shirt-2")).status_code == 200


async def test_invalidate_catalog_drops_every_rendering(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    product = await _shirt(session)
    assert (await client.get(f"/store/products/{product.id}")).json()["category"]["name"] == "Shirts"
    await session.execute(update(Product).where(Product.id == product.id).values(description="Changed."))
    await session.commit()
    await catalog.invalidate_catalog(app.state.cache)
    assert (await client.get(f"/store/products/{product.id}")).json()["description"] == "Changed."


async def test_detail_etag_and_cache_control(client: httpx.AsyncClient, session: AsyncSession) -> None:
    product = await _shirt(session)
    first = await client.get(f"/store/products/{product.id}")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "public, max-age=60"
    response = await client.get(f"/store/products/{product.id}", headers={"if-none-match": f'"x", {etag}'})
    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "public, max-age=60"
