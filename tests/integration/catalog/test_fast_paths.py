"""Unchanged product pages are answered from the detail cache before the framework's routing:
the same bytes and headers as the full route, and anything unusual still reaches the route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules import catalog
from mercato.modules.catalog import product_page
from mercato.modules.catalog.endpoints import store_catalog
from mercato.modules.catalog.models import Product
from tests.integration.catalog.factories import VariantSpec, make_brand, make_category, make_product, refresh

LONG_DESCRIPTION = "A sturdy canvas bag with long handles. " * 60  # over the 1 KiB gzip threshold


async def _bag(session: AsyncSession, description: str = "A bag.") -> Product:
    product = await make_product(
        session, "Canvas bag", slug="canvas-bag", description=description,
        variants=[VariantSpec({"web-eu": 1299, "web-us": 1499}, sku="BAG-1", name="Canvas bag")],
    )
    await refresh(session, [product])
    return product


async def test_a_cached_page_is_the_same_bytes_and_headers_without_a_query(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _bag(session)
    first = await client.get("/store/products/canvas-bag")
    assert first.status_code == 200

    async def route_not_expected(*args: object) -> bytes:
        raise AssertionError("the route rendered a page the cache holds")

    monkeypatch.setattr(product_page, "product_detail_json", route_not_expected)
    with assert_max_queries(0):
        second = await client.get("/store/products/canvas-bag")
    assert second.content == first.content
    for header in ("etag", "cache-control", "content-type", "x-request-id", "x-content-type-options"):
        assert header in second.headers, header
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]


async def test_conditional_head_and_channel_requests(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any]
) -> None:
    await _bag(session)
    eu = await client.get("/store/products/canvas-bag")
    us = await client.get("/store/products/canvas-bag", params={"channel": "web-us"})
    assert us.json()["price"] == {"amount": 1499, "currency": "USD"}
    with assert_max_queries(0):
        not_modified = await client.get("/store/products/canvas-bag", headers={"if-none-match": eu.headers["etag"]})
        head = await client.head("/store/products/canvas-bag")
        cached_us = await client.get("/store/products/canvas-bag", params={"channel": "web-us"})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == eu.headers["etag"]
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(eu.content)
    assert cached_us.content == us.content


async def test_gzip_is_offered_as_by_the_route(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await _bag(session, LONG_DESCRIPTION)
    plain = await client.get("/store/products/canvas-bag", headers={"accept-encoding": "identity"})
    zipped = await client.get("/store/products/canvas-bag", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(plain.content)
    again = await client.get("/store/products/canvas-bag", headers={"accept-encoding": "gzip, br"})
    assert again.headers["content-encoding"] == "gzip"
    assert again.headers["etag"] == plain.headers["etag"]


async def test_a_change_is_seen_at_once_and_other_queries_go_to_the_route(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    product = await _bag(session)
    await client.get("/store/products/canvas-bag")
    product.description = "A better bag."
    await session.flush()
    await catalog.invalidate_product(app.state.cache, product.id)
    assert (await client.get("/store/products/canvas-bag")).json()["description"] == "A better bag."
    # An unknown channel is the route's 422, even for a product the cache holds elsewhere.
    unknown = await client.get("/store/products/canvas-bag", params={"channel": "mars"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "catalog.unknown_channel"
    odd = await client.get("/store/products/canvas-bag", params={"channel": "web-eu", "x": "1"})
    assert odd.status_code == 200


LIST_QUERIES = [
    {}, {"limit": "2"}, {"sort": "price"}, {"sort": "-price", "limit": "1"}, {"sort": "name"},
    {"category": "bags"}, {"brand": "acme"}, {"min_price": "1000", "max_price": "1400"}, {"in_stock": "true"},
    {"in_stock": "false"}, {"channel": "web-us"}, {"limit": "100", "sort": "popularity"},
    # What the route refuses, the route answers (the fast path steps aside).
    {"limit": "0"}, {"limit": "abc"}, {"sort": "cheapest"}, {"category": "nowhere"}, {"channel": "mars"},
    {"cursor": "garbage"}, {"min_price": "-1"}, {"in_stock": "maybe"}, {"attr.colour": "red"},
]


@pytest.mark.parametrize("params", LIST_QUERIES, ids=lambda params: "&".join(f"{k}={v}" for k, v in params.items()))
async def test_a_list_page_is_the_same_through_the_fast_path_and_the_route(
    client: httpx.AsyncClient, session: AsyncSession, params: dict[str, str]
) -> None:
    bags = await make_category(session, "Bags", slug="bags")
    acme = await make_brand(session, "Acme", slug="acme")
    for i in range(5):
        product = await make_product(
            session, f"Bag {i}", category=bags if i % 2 else None, brand=acme if i < 3 else None,
            variants=[VariantSpec({"web-eu": 1000 + 100 * i, "web-us": 1200 + 100 * i}, sku=f"B-{i}",
                                  track_inventory=i == 4)],
        )
        await refresh(session, [product])
    await session.commit()
    fast = await client.get("/store/products", params=params)
    # An unknown parameter makes the fast path step aside; the route ignores it.
    routed = await client.get("/store/products", params={**params, "via": "route"})
    assert fast.status_code == routed.status_code, (fast.text, routed.text)
    if fast.status_code == 200:
        assert fast.content == routed.content
        assert fast.headers["etag"] == routed.headers["etag"]
        assert fast.headers["cache-control"] == routed.headers["cache-control"]
    else:
        assert {**fast.json(), "request_id": None} == {**routed.json(), "request_id": None}


async def test_the_next_page_of_the_fast_path_follows_its_cursor(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def route_not_expected(*args: object) -> None:
        raise AssertionError("the route answered a plain list request")

    monkeypatch.setattr(store_catalog, "_cacheable", route_not_expected)
    for i in range(5):
        await make_product(session, f"Mug {i}", variants=[VariantSpec({"web-eu": 500 + i}, sku=f"M-{i}")])
    await refresh(session)
    await session.commit()
    seen: list[str] = []
    params = {"limit": "2", "sort": "price"}
    while True:
        page = (await client.get("/store/products", params=params)).json()
        seen += [item["name"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {**params, "cursor": page["next_cursor"]}
    assert seen == [f"Mug {i}" for i in range(5)]
