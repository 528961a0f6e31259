"""/admin/collections and /store/collections; rule membership; ?collection= on /store/products."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog import collections, listing
from mercato.modules.catalog.models import Attribute, Collection, CollectionProduct, Product, ProductListing
from mercato.modules.catalog.tasks.collections import refresh_rule_collections
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import VariantSpec, make_brand, make_category, make_product, refresh


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def admin(staff_token: str) -> dict[str, str]:
    return bearer(staff_token)


async def store_names(client: httpx.AsyncClient, collection: str) -> set[str]:
    response = await client.get("/store/products", params={"collection": collection})
    assert response.status_code == 200, response.text
    return {i["name"] for i in response.json()["items"]}


async def members(session: AsyncSession, collection_id: str) -> set[str]:
    rows = await session.execute(
        select(Product.name).join(CollectionProduct, CollectionProduct.product_id == Product.id)
        .where(CollectionProduct.collection_id == collection_id)
    )
    return set(rows.scalars())


async def test_permissions(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.get("/admin/collections")).status_code == 401
    reader = bearer(staff_token_for(settings, ["catalog:read"]))
    assert (await client.get("/admin/collections", headers=reader)).status_code == 200
    refused = await client.post("/admin/collections", json={"name": "X", "slug": "x"}, headers=reader)
    assert refused.status_code == 403


async def test_manual_collection_add_remove_reorder(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    a = await make_product(session, "A")
    b = await make_product(session, "B")
    c = await make_product(session, "C")
    await refresh(session)
    await session.commit()
    made = await client.post("/admin/collections", json={"name": "Picks", "slug": "picks", "is_published": True},
                             headers=admin)
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    added = await client.post(f"/admin/collections/{cid}/products",
                              json={"product_ids": [str(b.id), str(a.id), str(b.id)]}, headers=admin)
    assert added.status_code == 200, added.text
    assert added.json() == {"added": 2}
    assert await store_names(client, "picks") == {"A", "B"}
    assert await store_names(client, cid) == {"A", "B"}

    unknown = await client.post(f"/admin/collections/{cid}/products",
                                json={"product_ids": [str(c.id), "nope"]}, headers=admin)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "product_ids[1]"
    assert await store_names(client, "picks") == {"A", "B"}  # nothing added

    listed = (await client.get(f"/admin/collections/{cid}/products", headers=admin)).json()
    assert [m["name"] for m in listed["items"]] == ["B", "A"]
    bad_order = await client.put(f"/admin/collections/{cid}/products/order",
                                 json={"product_ids": [str(a.id)]}, headers=admin)
    assert bad_order.status_code == 422
    ordered = await client.put(f"/admin/collections/{cid}/products/order",
                               json={"product_ids": [str(a.id), str(b.id)]}, headers=admin)
    assert ordered.status_code == 204
    listed = (await client.get(f"/admin/collections/{cid}/products", headers=admin)).json()
    assert [m["name"] for m in listed["items"]] == ["A", "B"]

    removed = await client.delete(f"/admin/collections/{cid}/products/{b.id}", headers=admin)
    assert removed.status_code == 204
    assert await store_names(client, "picks") == {"A"}
    again = await client.delete(f"/admin/collections/{cid}/products/{b.id}", headers=admin)
    assert again.status_code == 404


async def test_unpublished_collections_are_hidden_from_the_store(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    a = await make_product(session, "A")
    await refresh(session)
    await session.commit()
    made = await client.post("/admin/collections", json={"name": "Soon", "slug": "soon"}, headers=admin)
    cid = made.json()["id"]
    await client.post(f"/admin/collections/{cid}/products", json={"product_ids": [str(a.id)]}, headers=admin)
    for path in ("/store/collections/soon", f"/store/collections/{cid}"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "catalog.collection_not_found"
    hidden = await client.get("/store/products", params={"collection": "soon"})
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "catalog.collection_not_found"
    assert (await client.get("/store/collections")).json()["items"] == []

    etag = (await client.get(f"/admin/collections/{cid}", headers=admin)).headers["etag"]
    published = await client.patch(f"/admin/collections/{cid}", json={"is_published": True},
                                   headers={**admin, "if-match": etag})
    assert published.status_code == 200
    assert published.json()["version"] == 3  # created, product added, published
    stale = await client.patch(f"/admin/collections/{cid}", json={"name": "X"}, headers={**admin, "if-match": etag})
    assert stale.status_code == 412
    detail = await client.get("/store/collections/soon")
    assert detail.status_code == 200
    assert detail.json()["name"] == "Soon"
    assert [c["slug"] for c in (await client.get("/store/collections")).json()["items"]] == ["soon"]
    assert await store_names(client, "soon") == {"A"}


@pytest.mark.parametrize(("rules", "field"), [
    (None, "rules"),
    ({"conditions": []}, "rules.conditions"),
    ({"match": "some", "conditions": [{"field": "tag", "op": "eq", "value": "x"}]}, "rules.match"),
    ({"conditions": [{"field": "colour", "op": "eq", "value": "x"}]}, "rules.conditions[0].field"),
    ({"conditions": [{"field": "tag", "op": "gte", "value": "x"}]}, "rules.conditions[0].op"),
    ({"conditions": [{"field": "tag", "op": "in", "value": "x"}]}, "rules.conditions[0].value"),
    ({"conditions": [{"field": "brand", "op": "eq", "value": "not-an-id"}]}, "rules.conditions[0].value"),
    ({"conditions": [{"field": "brand", "op": "eq", "value": "01900000-0000-7000-8000-000000000000"}]},
     "rules.conditions[0].value"),
    ({"conditions": [{"field": "price", "op": "lte", "value": 100}]}, "rules.conditions[0].currency"),
    ({"conditions": [{"field": "price", "op": "lte", "value": -1, "currency": "EUR"}]}, "rules.conditions[0].value"),
    ({"conditions": [{"field": "attribute.ghost", "op": "eq", "value": "x"}]}, "rules.conditions[0].field"),
    ({"conditions": [{"field": "tag", "op": "eq", "value": "x", "extra": 1}]}, "rules.conditions[0].extra"),
])
async def test_bad_rules_are_422_with_pointers(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], rules: Any, field: str
) -> None:
    body: dict[str, Any] = {"name": "R", "slug": "r", "kind": "rule"}
    if rules is not None:
        body["rules"] = rules
    response = await client.post("/admin/collections", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert (await session.execute(select(func.count()).select_from(Collection))).scalar_one() == 0


async def test_manual_collections_take_no_rules_and_rule_ones_no_hand_picks(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    refused = await client.post("/admin/collections", json={
        "name": "M", "slug": "m", "rules": {"conditions": [{"field": "tag", "op": "eq", "value": "x"}]}},
        headers=admin)
    assert refused.status_code == 422
    rule = (await client.post("/admin/collections", json={
        "name": "R", "slug": "r", "kind": "rule", "rules": {"conditions": [{"field": "tag", "op": "eq", "value": "x"}]},
    }, headers=admin)).json()
    product = await make_product(session, "P")
    await session.commit()
    response = await client.post(f"/admin/collections/{rule['id']}/products", json={"product_ids": [str(product.id)]},
                                 headers=admin)
    assert response.status_code == 409
    assert response.json()["code"] == "catalog.collection_rule_based"
    dup = await client.post("/admin/collections", json={"name": "X", "slug": "r"}, headers=admin)
    assert dup.status_code == 409


async def test_rule_membership_follows_product_changes(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    acme = await make_brand(session, "Acme", slug="acme")
    clothing = await make_category(session, "Clothing", slug="clothing")
    shirts = await make_category(session, "Shirts", parent=clothing, slug="shirts")
    session.add(Attribute(code="colour", name="Colour", type="select", filterable=True,
                          options=[{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]))
    red_shirt = await make_product(session, "Red shirt", brand=acme, category=shirts, attributes={"colour": "red"},
                                   prices={"web-eu": 1500})
    await make_product(session, "Blue shirt", brand=acme, category=shirts, attributes={"colour": "blue"},
                       prices={"web-eu": 1500})
    await make_product(session, "Pricey red", brand=acme, category=shirts, attributes={"colour": "red"},
                       prices={"web-eu": 9000})
    other = await make_product(session, "Other red", category=clothing, attributes={"colour": "red"},
                               prices={"web-eu": 1000})
    await refresh(session)
    await session.commit()

    rules = {"match": "all", "conditions": [
        {"field": "brand", "op": "eq", "value": str(acme.id)},
        {"field": "category", "op": "eq", "value": str(clothing.id)},
        {"field": "attribute.colour", "op": "in", "value": ["red"]},
        {"field": "price", "op": "lte", "value": 2000, "currency": "EUR"},
    ]}
    made = await client.post("/admin/collections", json={"name": "Cheap red", "slug": "cheap-red", "kind": "rule",
                                                          "rules": rules, "is_published": True}, headers=admin)
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    assert await store_names(client, "cheap-red") == {"Red shirt"}

    # The other product changes so that it matches; membership follows after a refresh.
    await session.execute(Product.__table__.update().where(Product.id == other.id).values(brand_id=acme.id))
    changed = await collections.refresh_memberships(session, [other.id])
    assert changed == {other.id}
    await listing.refresh(session, list(changed))
    # The red shirt stops matching; the periodic sweep catches it.
    await session.execute(Product.__table__.update().where(Product.id == red_shirt.id)
                          .values(attributes={"colour": "blue"}))
    await session.commit()
    assert await store_names(client, "cheap-red") == {"Other red", "Red shirt"}
    assert await refresh_rule_collections(session) == 1
    await session.commit()
    assert await store_names(client, "cheap-red") == {"Other red"}

    # "any" widens it; new rules apply at once.
    etag = (await client.get(f"/admin/collections/{cid}", headers=admin)).headers["etag"]
    any_rules = {"match": "any", "conditions": [{"field": "attribute.colour", "op": "eq", "value": "blue"},
                                                {"field": "price", "op": "gte", "value": 5000, "currency": "EUR"}]}
    patched = await client.patch(f"/admin/collections/{cid}", json={"rules": any_rules},
                                 headers={**admin, "if-match": etag})
    assert patched.status_code == 200, patched.text
    assert await members(session, cid) == {"Red shirt", "Blue shirt", "Pricey red"}
    assert await store_names(client, "cheap-red") == {"Red shirt", "Blue shirt", "Pricey red"}

    deleted = await client.delete(f"/admin/collections/{cid}", headers=admin)
    assert deleted.status_code == 204
    assert (await client.get("/store/products", params={"collection": cid})).status_code == 404
    leftover = await session.execute(select(func.count()).select_from(ProductListing)
                                     .where(ProductListing.collection_ids != []))
    assert leftover.scalar_one() == 0  # members were re-listed without the collection


async def test_tag_rules_and_query_counts(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], assert_max_queries: Callable[[int], Any]
) -> None:
    for i in range(12):
        product = await make_product(session, f"Item {i:02}", variants=[VariantSpec({"web-eu": 100 + i})])
        product.tags = ["sale"] if i % 2 else ["new"]
    await session.flush()
    await refresh(session)
    await session.commit()
    made = await client.post("/admin/collections", json={
        "name": "Sale", "slug": "sale", "kind": "rule", "is_published": True,
        "rules": {"conditions": [{"field": "tag", "op": "in", "value": ["sale"]}]},
    }, headers=admin)
    assert made.status_code == 201
    for limit in ("1", "100"):
        with assert_max_queries(2):
            response = await client.get("/store/products", params={"collection": "sale", "limit": limit})
        assert response.status_code == 200
    assert len(response.json()["items"]) == 6


async def test_an_admin_edit_moves_a_product_into_a_rule_collection_at_once(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    acme = await make_brand(session, "Acme", slug="acme")
    lamp = await make_product(session, "Desk lamp", prices={"web-eu": 2500})
    await refresh(session)
    await session.commit()
    rules = {"match": "all", "conditions": [{"field": "brand", "op": "eq", "value": str(acme.id)}]}
    made = await client.post("/admin/collections", json={"name": "Acme", "slug": "acme-picks", "kind": "rule",
                                                          "rules": rules, "is_published": True}, headers=admin)
    assert made.status_code == 201, made.text
    assert await store_names(client, "acme-picks") == set()

    current = await client.get(f"/admin/products/{lamp.id}", headers=admin)
    edited = await client.patch(f"/admin/products/{lamp.id}", json={"brand_id": str(acme.id)},
                                headers={**admin, "if-match": current.headers["etag"]})
    assert edited.status_code == 200, edited.text
    assert await store_names(client, "acme-picks") == {"Desk lamp"}  # no sweep needed
