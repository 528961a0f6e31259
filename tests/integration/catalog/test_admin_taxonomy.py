"""/admin/attributes, /admin/product-types, /admin/categories, /admin/brands."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Attribute, Brand, Category, ProductType
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import make_brand, make_category, make_product, refresh


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def admin(staff_token: str) -> dict[str, str]:
    return bearer(staff_token)


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


COLOUR = {"code": "colour", "name": "Colour", "type": "swatch", "filterable": True,
          "options": [{"value": "red", "label": "Red", "hex": "#ff0000"}, {"value": "blue", "label": "Blue"}]}


# ---- permissions


@pytest.mark.parametrize("path", ["/admin/attributes", "/admin/product-types", "/admin/categories", "/admin/brands"])
async def test_reads_need_catalog_read_and_writes_catalog_write(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, path: str
) -> None:
    assert (await client.get(path)).status_code == 401
    none = bearer(staff_token_for(settings, ["orders:read"]))
    reader = bearer(staff_token_for(settings, ["catalog:read"]))
    response = await client.get(path, headers=none)
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden"
    assert (await client.get(path, headers=reader)).status_code == 200
    body = {"name": "X", "slug": "x"} if path != "/admin/attributes" else {"code": "x", "name": "X", "type": "text"}
    response = await client.post(path, json=body, headers=reader)
    assert response.status_code == 403
    assert (await client.post(path, json=body, headers=bearer(staff_token_for(settings, ["catalog:write"])))
            ).status_code == 201


# ---- attributes


async def test_attribute_crud_and_etag(client: httpx.AsyncClient, session: AsyncSession,
                                       admin: dict[str, str]) -> None:
    created = await client.post("/admin/attributes", json=COLOUR, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["options"][0] == {"value": "red", "label": "Red", "hex": "#ff0000"}
    assert created.headers["location"] == f"/admin/attributes/{body['id']}"
    etag = created.headers["etag"]

    again = await client.post("/admin/attributes", json={**COLOUR, "name": "Other"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "catalog.taken"
    assert await count(session, Attribute) == 1

    updated = await client.patch(f"/admin/attributes/{body['id']}", json={"name": "Color"},
                                 headers={**admin, "if-match": etag})
    assert updated.status_code == 200
    assert updated.json()["name"] == "Color"
    assert updated.headers["etag"] != etag
    stale = await client.patch(f"/admin/attributes/{body['id']}", json={"name": "Stale"},
                               headers={**admin, "if-match": etag})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition.stale"
    got = await client.get(f"/admin/attributes/{body['id']}", headers=admin)
    assert got.json()["name"] == "Color"
    assert got.headers["etag"] == updated.headers["etag"]
    listed = (await client.get("/admin/attributes", headers=admin)).json()
    assert [a["code"] for a in listed["items"]] == ["colour"]

    assert (await client.delete(f"/admin/attributes/{body['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/admin/attributes/{body['id']}", headers=admin)).status_code == 404
    missing = await client.get("/admin/attributes/not-an-id", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "catalog.attribute_not_found"


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "size", "name": "Size", "type": "select", "options": []}, "options"),
    ({"code": "size", "name": "Size", "type": "text", "options": [{"value": "s", "label": "S"}]}, "options"),
    ({"code": "size", "name": "Size", "type": "select",
      "options": [{"value": "s", "label": "S"}, {"value": "s", "label": "Small"}]}, "options[1].value"),
    ({"code": "size", "name": "Size", "type": "select", "options": [{"value": "s", "label": "S", "hex": "#000000"}]},
     "options[0].hex"),
    ({"code": "size", "name": "Size", "type": "text", "unit": "cm"}, "unit"),
])
async def test_bad_attribute_definitions_are_422(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/admin/attributes", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation.invalid"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await count(session, Attribute) == 0


async def test_attribute_codes_are_checked_by_the_schema(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for code in ["Colour", "1st", "a-b", "x" * 51, ""]:
        response = await client.post("/admin/attributes", json={"code": code, "name": "X", "type": "text"},
                                     headers=admin)
        assert response.status_code == 422, code
    response = await client.post("/admin/attributes", json={"code": "x", "name": "X", "type": "blob"}, headers=admin)
    assert response.status_code == 422


async def test_type_is_fixed_once_a_product_type_uses_the_attribute(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    attribute = (await client.post("/admin/attributes", json={"code": "material", "name": "Material",
                                                              "type": "text"}, headers=admin)).json()
    # unused: the type may change
    changed = await client.patch(f"/admin/attributes/{attribute['id']}",
                                 json={"type": "select", "options": [{"value": "wool", "label": "Wool"}]},
                                 headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["type"] == "select"
    made = await client.post("/admin/product-types", json={"name": "Knit", "slug": "knit",
                                                           "attributes": [{"code": "material", "required": True}]},
                             headers=admin)
    assert made.status_code == 201, made.text
    refused = await client.patch(f"/admin/attributes/{attribute['id']}", json={"type": "text"}, headers=admin)
    assert refused.status_code == 409
    assert refused.json()["code"] == "catalog.attribute_in_use"
    deleting = await client.delete(f"/admin/attributes/{attribute['id']}", headers=admin)
    assert deleting.status_code == 409
    row = (await session.execute(select(Attribute).where(Attribute.code == "material"))).scalar_one()
    assert row.type == "select"


# ---- product types


async def test_product_type_validation(client: httpx.AsyncClient, session: AsyncSession,
                                       admin: dict[str, str]) -> None:
    await client.post("/admin/attributes", json=COLOUR, headers=admin)
    await client.post("/admin/attributes", json={"code": "material", "name": "Material", "type": "text"},
                      headers=admin)
    response = await client.post("/admin/product-types", json={
        "name": "Shirt", "slug": "shirt",
        "attributes": [{"code": "material"}, {"code": "nope"}, {"code": "material"}],
        "variant_options": ["material", "ghost", "colour"],
    }, headers=admin)
    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("attributes[1].code", "unknown"), ("attributes[2].code", "duplicate"),
        ("variant_options[0]", "invalid"), ("variant_options[1]", "unknown"),
    }
    assert await count(session, ProductType) == 0

    ok = await client.post("/admin/product-types", json={
        "name": "Shirt", "slug": "shirt", "attributes": [{"code": "material", "required": True}],
        "variant_options": ["colour"],
    }, headers=admin)
    assert ok.status_code == 201, ok.text
    assert ok.json()["attributes"] == [{"code": "material", "required": True}]
    dup = await client.post("/admin/product-types", json={"name": "Other", "slug": "shirt"}, headers=admin)
    assert dup.status_code == 409
    assert dup.json()["code"] == "catalog.taken"

    type_id = ok.json()["id"]
    patched = await client.patch(f"/admin/product-types/{type_id}", json={"attributes": [{"code": "ghost"}]},
                                 headers={**admin, "if-match": ok.headers["etag"]})
    assert patched.status_code == 422
    renamed = await client.patch(f"/admin/product-types/{type_id}", json={"name": "Shirts"},
                                 headers={**admin, "if-match": ok.headers["etag"]})
    assert renamed.status_code == 200
    assert renamed.json()["attributes"] == [{"code": "material", "required": True}]
    assert (await client.delete(f"/admin/product-types/{type_id}", headers=admin)).status_code == 204


# ---- categories


async def test_create_category_under_a_parent(client: httpx.AsyncClient, session: AsyncSession,
                                              admin: dict[str, str]) -> None:
    root = (await client.post("/admin/categories", json={"name": "Root", "slug": "root"}, headers=admin)).json()
    child = await client.post("/admin/categories", json={"name": "Child", "slug": "child", "parent_id": root["id"]},
                              headers=admin)
    assert child.status_code == 201, child.text
    assert child.json()["path"] == f"{root['id']}/{child.json()['id']}"
    assert child.json()["depth"] == 1
    bad_parent = await client.post("/admin/categories", json={"name": "X", "slug": "x", "parent_id": "nope"},
                                   headers=admin)
    assert bad_parent.status_code == 422
    assert bad_parent.json()["errors"][0]["field"] == "parent_id"
    taken = await client.post("/admin/categories", json={"name": "X", "slug": "child"}, headers=admin)
    assert taken.status_code == 409
    assert await count(session, Category) == 2
    tree = (await client.get("/admin/categories/tree", headers=admin)).json()
    assert tree["items"][0]["slug"] == "root"
    assert [c["slug"] for c in tree["items"][0]["children"]] == ["child"]
    children = (await client.get("/admin/categories", params={"parent_id": root["id"]}, headers=admin)).json()
    assert [c["slug"] for c in children["items"]] == ["child"]


async def test_subtree_move_relists_products(client: httpx.AsyncClient, session: AsyncSession,
                                             admin: dict[str, str]) -> None:
    old = await make_category(session, "Old", slug="old")
    new = await make_category(session, "New", slug="new")
    a = await make_category(session, "A", parent=old, slug="a")
    b = await make_category(session, "B", parent=a, slug="b")
    c = await make_category(session, "C", parent=b, slug="c")
    await make_product(session, "In A", category=a)
    await make_product(session, "In C", category=c)
    await make_product(session, "Stays", category=old)
    await refresh(session)
    await session.commit()

    async def names(category: str) -> set[str]:
        response = await client.get("/store/products", params={"category": category})
        assert response.status_code == 200
        return {i["name"] for i in response.json()["items"]}

    assert await names("old") == {"In A", "In C", "Stays"}
    assert await names("new") == set()
    etag = (await client.get(f"/admin/categories/{a.id}", headers=admin)).headers["etag"]

    moved = await client.post(f"/admin/categories/{a.id}/move", json={"parent_id": str(new.id), "position": 3},
                              headers={**admin, "if-match": etag})
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == f"{new.id}/{a.id}"
    assert moved.json()["position"] == 3
    assert await names("old") == {"Stays"}
    assert await names("new") == {"In A", "In C"}
    assert await names("c") == {"In C"}
    rows = {r.slug: (r.path, r.depth)
            for r in (await session.execute(select(Category.slug, Category.path, Category.depth))).all()}
    assert rows["c"] == (f"{new.id}/{a.id}/{b.id}/{c.id}", 3)
    assert rows["b"] == (f"{new.id}/{a.id}/{b.id}", 2)
    assert rows["old"] == (str(old.id), 0)

    stale = await client.post(f"/admin/categories/{a.id}/move", json={"parent_id": None},
                              headers={**admin, "if-match": etag})
    assert stale.status_code == 412
    to_root = await client.post(f"/admin/categories/{b.id}/move", json={"parent_id": None}, headers=admin)
    assert to_root.status_code == 200
    assert to_root.json()["path"] == str(b.id)
    assert to_root.json()["depth"] == 0
    assert to_root.json()["parent_id"] is None
    assert await names("new") == {"In A"}
    assert await names("b") == {"In C"}


async def test_moving_below_itself_is_a_cycle(client: httpx.AsyncClient, session: AsyncSession,
                                              admin: dict[str, str]) -> None:
    a = await make_category(session, "A", slug="a")
    b = await make_category(session, "B", parent=a, slug="b")
    c = await make_category(session, "C", parent=b, slug="c")
    await session.commit()
    for target in (a, c):
        response = await client.post(f"/admin/categories/{a.id}/move", json={"parent_id": str(target.id)},
                                     headers=admin)
        assert response.status_code == 409
        assert response.json()["code"] == "catalog.category_cycle"
    unknown = await client.post(f"/admin/categories/{a.id}/move", json={"parent_id": str(a.id)[:-1] + "0"},
                                headers=admin)
    assert unknown.status_code in (409, 422)
    path = (await session.execute(select(Category.path).where(Category.id == a.id))).scalar_one()
    assert path == str(a.id)


async def test_category_edit_and_delete_rules(client: httpx.AsyncClient, session: AsyncSession,
                                              admin: dict[str, str]) -> None:
    root = await make_category(session, "Root", slug="root")
    child = await make_category(session, "Child", parent=root, slug="child")
    await make_category(session, "Other", slug="other")
    product = await make_product(session, "Thing", category=child)
    await refresh(session)
    await session.commit()

    patched = await client.patch(f"/admin/categories/{root.id}", json={"name": "Top", "description": "d",
                                                                        "is_active": False}, headers=admin)
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["is_active"]) == ("Top", False)
    taken = await client.patch(f"/admin/categories/{root.id}", json={"slug": "other"}, headers=admin)
    assert taken.status_code == 409
    has_children = await client.delete(f"/admin/categories/{root.id}", headers=admin)
    assert has_children.status_code == 409
    assert has_children.json()["code"] == "catalog.category_not_empty"
    has_products = await client.delete(f"/admin/categories/{child.id}", headers=admin)
    assert has_products.status_code == 409
    assert await count(session, Category) == 3
    assert product.id
    assert (await client.delete("/admin/categories/00000000-0000-0000-0000-000000000000",
                                headers=admin)).status_code == 404
    other = (await client.get("/admin/categories", params={"roots": "true"}, headers=admin)).json()
    other_id = next(c["id"] for c in other["items"] if c["slug"] == "other")
    assert (await client.delete(f"/admin/categories/{other_id}", headers=admin)).status_code == 204


# ---- brands


async def test_brand_crud(client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]) -> None:
    made = await client.post("/admin/brands", json={"name": "Acme", "slug": "acme"}, headers=admin)
    assert made.status_code == 201
    dup = await client.post("/admin/brands", json={"name": "Acme 2", "slug": "acme"}, headers=admin)
    assert dup.status_code == 409
    bad = await client.post("/admin/brands", json={"name": "Acme 2", "slug": "Not A Slug"}, headers=admin)
    assert bad.status_code == 422
    assert await count(session, Brand) == 1
    brand_id = made.json()["id"]
    renamed = await client.patch(f"/admin/brands/{brand_id}", json={"name": "ACME"},
                                 headers={**admin, "if-match": made.headers["etag"]})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "ACME"
    used = await make_brand(session, "Used", slug="used")
    await make_product(session, "Thing", brand=used)
    await session.commit()
    in_use = await client.delete(f"/admin/brands/{used.id}", headers=admin)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "catalog.brand_in_use"
    assert (await client.delete(f"/admin/brands/{brand_id}", headers=admin)).status_code == 204
