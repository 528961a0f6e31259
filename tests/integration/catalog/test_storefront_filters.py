"""/store/products attribute filters (attr.<code>=...), the listing's attribute values and the
publish/unpublish visibility window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.modules.catalog.models import Attribute, ProductListing
from tests.integration.catalog.factories import make_category, make_product, refresh


async def _attributes(session: AsyncSession) -> None:
    session.add_all([
        Attribute(code="colour", name="Colour", type="swatch", filterable=True,
                  options=[{"value": v, "label": v} for v in ("red", "blue", "green")]),
        Attribute(code="sizes", name="Sizes", type="multiselect", filterable=True,
                  options=[{"value": v, "label": v} for v in ("s", "m", "l")]),
        Attribute(code="width", name="Width", type="number", unit="cm", filterable=True),
        Attribute(code="organic", name="Organic", type="boolean", filterable=True),
        Attribute(code="care", name="Care", type="text", filterable=False),
    ])
    await session.flush()


async def names(client: httpx.AsyncClient, params: list[tuple[str, str]]) -> set[str]:
    response = await client.get("/store/products", params=params)
    assert response.status_code == 200, response.text
    return {i["name"] for i in response.json()["items"]}


@pytest.fixture
async def catalogue(session: AsyncSession) -> None:
    await _attributes(session)
    await make_product(session, "Red S", attributes={"colour": "red", "sizes": ["s"], "care": "wash",
                                                     "width": {"value": 30, "unit": "cm"}, "organic": True})
    await make_product(session, "Red M L", attributes={"colour": "red", "sizes": ["m", "l"], "organic": False})
    await make_product(session, "Blue M", attributes={"colour": "blue", "sizes": ["m"], "width": 42.5})
    await make_product(session, "Plain", attributes={})
    await refresh(session)
    await session.commit()


async def test_listing_keeps_only_filterable_values_as_arrays(
    session: AsyncSession, catalogue: None
) -> None:
    result = await session.execute(select(ProductListing.name, ProductListing.attributes))
    rows = {name: attributes for name, attributes in result.all()}
    assert rows["Red S"] == {"colour": ["red"], "sizes": ["s"], "width": [30], "organic": [True]}
    assert rows["Blue M"] == {"colour": ["blue"], "sizes": ["m"], "width": [42.5]}
    assert rows["Plain"] == {}


async def test_values_of_one_attribute_or_and_attributes_and(client: httpx.AsyncClient, catalogue: None) -> None:
    assert await names(client, [("attr.colour", "red")]) == {"Red S", "Red M L"}
    assert await names(client, [("attr.colour", "red"), ("attr.colour", "blue")]) == {"Red S", "Red M L", "Blue M"}
    assert await names(client, [("attr.sizes", "m")]) == {"Red M L", "Blue M"}
    assert await names(client, [("attr.colour", "red"), ("attr.sizes", "m")]) == {"Red M L"}
    assert await names(client, [("attr.colour", "green")]) == set()
    assert await names(client, [("attr.width", "30")]) == {"Red S"}
    assert await names(client, [("attr.width", "42.5")]) == {"Blue M"}
    assert await names(client, [("attr.organic", "true")]) == {"Red S"}
    assert await names(client, [("attr.organic", "false")]) == {"Red M L"}


@pytest.mark.parametrize(("params", "status", "code"), [
    ([("attr.care", "wash")], 422, "catalog.unknown_attribute"),  # not filterable
    ([("attr.ghost", "x")], 422, "catalog.unknown_attribute"),
    ([("attr.Bad-Code", "x")], 422, "catalog.unknown_attribute"),
    ([("attr.", "x")], 422, "catalog.unknown_attribute"),
    ([("attr.width", "wide")], 422, "validation.invalid"),
    ([("attr.width", "nan")], 422, "validation.invalid"),
    ([("attr.organic", "yes")], 422, "validation.invalid"),
    ([("attr.colour", "")], 422, "validation.invalid"),
    ([("attr.colour", "a\x00b")], 422, "validation.invalid"),
    ([("collection", "nope")], 404, "catalog.collection_not_found"),
])
async def test_bad_filters(client: httpx.AsyncClient, catalogue: None, params: list[tuple[str, str]],
                           status: int, code: str) -> None:
    response = await client.get("/store/products", params=params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_too_many_attribute_filters(client: httpx.AsyncClient, catalogue: None) -> None:
    response = await client.get("/store/products", params=[(f"attr.a{i}", "x") for i in range(21)])
    assert response.status_code == 422


@pytest.mark.parametrize("limit", [1, 100])
async def test_attribute_filters_cost_the_same_queries_at_any_size(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any], limit: int
) -> None:
    await _attributes(session)
    root = await make_category(session, "Root", slug="root")
    for i in range(30):
        await make_product(session, f"Item {i:02}", category=root,
                           attributes={"colour": "red" if i % 2 else "blue", "sizes": ["s", "m"]})
    await refresh(session)
    await session.commit()
    params = [("limit", str(limit)), ("category", "root"), ("attr.colour", "red"), ("attr.colour", "blue"),
              ("attr.sizes", "m"), ("sort", "price")]
    with assert_max_queries(2) as counter:  # resolve channel, filters and attribute types in one, then the page
        response = await client.get("/store/products", params=params)
    assert response.status_code == 200
    assert len(counter.statements) == 2
    assert len(response.json()["items"]) == min(limit, 30)


async def test_visibility_window(client: httpx.AsyncClient, session: AsyncSession) -> None:
    now = utcnow()
    live = await make_product(session, "Live")
    early = await make_product(session, "Not yet")
    over = await make_product(session, "Over")
    window = await make_product(session, "In window")
    early.publish_at = now + timedelta(days=1)
    over.unpublish_at = now - timedelta(minutes=1)
    window.publish_at, window.unpublish_at = now - timedelta(days=1), now + timedelta(days=1)
    await session.flush()
    await refresh(session)
    await session.commit()
    assert await names(client, []) == {"Live", "In window"}
    assert live.id


async def test_making_an_attribute_filterable_relists_its_products(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    care = Attribute(code="fabric", name="Fabric", type="text", filterable=False)
    session.add(care)
    await make_product(session, "Wool coat", attributes={"fabric": "wool"})
    await make_product(session, "Cotton tee", attributes={"fabric": "cotton"})
    await refresh(session)
    await session.commit()
    refused = await client.get("/store/products", params={"attr.fabric": "wool"})
    assert refused.status_code == 422
    response = await client.patch(f"/admin/attributes/{care.id}", json={"filterable": True},
                                  headers={"authorization": f"Bearer {staff_token}"})
    assert response.status_code == 200, response.text
    assert await names(client, [("attr.fabric", "wool")]) == {"Wool coat"}


async def test_category_rename_reaches_the_cached_product_detail(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    shoes = await make_category(session, "Shoes", slug="shoes")
    product = await make_product(session, "Boot", category=shoes)
    await refresh(session)
    await session.commit()
    first = await client.get(f"/store/products/{product.id}")
    assert first.json()["category"]["name"] == "Shoes"
    renamed = await client.patch(f"/admin/categories/{shoes.id}", json={"name": "Footwear"},
                                 headers={"authorization": f"Bearer {staff_token}"})
    assert renamed.status_code == 200
    again = await client.get(f"/store/products/{product.id}")
    assert again.json()["category"]["name"] == "Footwear"
