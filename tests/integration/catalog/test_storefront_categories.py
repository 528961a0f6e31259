"""GET /store/categories: the category tree with per-channel product counts, and one node."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.catalog.models import Category
from tests.integration.catalog.factories import make_category, make_product, refresh


async def _tree(session: AsyncSession) -> dict[str, Category]:
    c: dict[str, Category] = {}
    c["clothing"] = await make_category(session, "Clothing", slug="clothing", position=1)
    c["shoes"] = await make_category(session, "Shoes", slug="shoes", position=0)
    c["bags"] = await make_category(session, "Bags", slug="bags", position=1)  # same position: by name
    c["shirts"] = await make_category(session, "Shirts", parent=c["clothing"], slug="shirts", position=2)
    c["coats"] = await make_category(session, "Coats", parent=c["clothing"], slug="coats", position=1)
    c["tees"] = await make_category(session, "T-shirts", parent=c["shirts"], slug="tees")
    c["hidden"] = await make_category(session, "Hidden", parent=c["clothing"], slug="hidden", is_active=False)
    c["under-hidden"] = await make_category(session, "Under hidden", parent=c["hidden"], slug="under-hidden")
    await make_product(session, "Coat", category=c["coats"])
    await make_product(session, "Oxford", category=c["shirts"], prices={"web-eu": 100, "web-us": 100})
    await make_product(session, "Tee 1", category=c["tees"])
    await make_product(session, "Tee 2", category=c["tees"], prices={"web-us": 100})
    await make_product(session, "Draft tee", category=c["tees"], status="draft")
    await make_product(session, "Boot", category=c["shoes"])
    await make_product(session, "Secret", category=c["under-hidden"])
    await make_product(session, "Uncategorised")
    await refresh(session)
    await session.commit()
    return c


def _shape(nodes: list[dict[str, Any]]) -> list[Any]:
    return [(n["slug"], n["product_count"], _shape(n["children"])) for n in nodes]


async def test_tree_is_nested_ordered_and_counts_descendants(client: httpx.AsyncClient, session: AsyncSession) -> None:
    c = await _tree(session)
    response = await client.get("/store/categories")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert _shape(items) == [
        ("shoes", 1, []),
        ("bags", 0, []),
        # The hidden child is not shown, but its products still count for its visible ancestor,
        # as the category filter of /store/products includes them.
        ("clothing", 4, [("coats", 1, []), ("shirts", 2, [("tees", 1, [])])]),
    ]
    assert items[0] == {"id": str(c["shoes"].id), "slug": "shoes", "name": "Shoes", "product_count": 1,
                        "children": []}
    us = (await client.get("/store/categories", params={"channel": "web-us"})).json()["items"]
    assert _shape(us) == [
        ("shoes", 0, []), ("bags", 0, []), ("clothing", 2, [("coats", 0, []), ("shirts", 2, [("tees", 1, [])])]),
    ]
    clothing = await client.get("/store/products", params={"category": "clothing", "limit": "100"})
    assert len(clothing.json()["items"]) == 4


async def test_tree_costs_two_queries_at_any_size(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any]
) -> None:
    await _tree(session)
    with assert_max_queries(2):
        small = await client.get("/store/categories")
    parent = await make_category(session, "Big", slug="big")
    for i in range(40):
        child = await make_category(session, f"Child {i}", parent=parent, position=i)
        await make_category(session, f"Grandchild {i}", parent=child)
    await session.commit()
    with assert_max_queries(2):
        big = await client.get("/store/categories")
    assert len(big.json()["items"]) == len(small.json()["items"]) + 1
    (node,) = [n for n in big.json()["items"] if n["slug"] == "big"]
    assert [n["name"] for n in node["children"]] == [f"Child {i}" for i in range(40)]
    assert all(len(child["children"]) == 1 for child in node["children"])


async def test_tree_unknown_channel_and_etag(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await _tree(session)
    response = await client.get("/store/categories", params={"channel": "mars"})
    assert (response.status_code, response.json()["code"]) == (422, "catalog.unknown_channel")
    first = await client.get("/store/categories")
    assert first.headers["cache-control"] == "public, max-age=60"
    again = await client.get("/store/categories", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("by", ["id", "slug"])
async def test_category_with_breadcrumb_and_children(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any], by: str
) -> None:
    c = await _tree(session)
    ref = str(c["shirts"].id) if by == "id" else "shirts"
    with assert_max_queries(3):
        response = await client.get(f"/store/categories/{ref}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": str(c["shirts"].id), "slug": "shirts", "name": "Shirts", "description": "", "product_count": 2,
        "ancestors": [{"id": str(c["clothing"].id), "slug": "clothing", "name": "Clothing"}],
        "children": [{"id": str(c["tees"].id), "slug": "tees", "name": "T-shirts", "product_count": 1}],
    }
    root = (await client.get("/store/categories/clothing", params={"channel": "web-us"})).json()
    assert root["ancestors"] == []
    assert root["product_count"] == 2
    assert [(child["slug"], child["product_count"]) for child in root["children"]] == [("coats", 0), ("shirts", 2)]
    leaf = (await client.get("/store/categories/tees")).json()
    assert [a["slug"] for a in leaf["ancestors"]] == ["clothing", "shirts"]
    assert leaf["children"] == []


async def test_unknown_or_hidden_category_is_404(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await _tree(session)
    for ref in ("hidden", "under-hidden", "nope", str(uuid.uuid4()), "x" * 300):
        response = await client.get(f"/store/categories/{ref}")
        assert response.status_code == 404, ref
        assert response.json()["code"] == "catalog.category_not_found"
    response = await client.get("/store/categories/shirts", params={"channel": "mars"})
    assert (response.status_code, response.json()["code"]) == (422, "catalog.unknown_channel")
