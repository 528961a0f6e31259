"""The admin product API end to end: create, submit, approve (permissions), publish, storefront,
edit with revisions, stale writes, revert, archive; plus refused input that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.outbox import OutboxEvent
from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Product, ProductRevision
from tests.integration.catalog.admin_products_helpers import (
    EDITOR,
    MANAGER,
    auth,
    create,
    created,
    seed_channels,
    variant,
)
from tests.integration.catalog.factories import make_brand, make_category


async def test_the_whole_story(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    await seed_channels(session)
    editor, manager = auth(settings, EDITOR), auth(settings, MANAGER)

    product = await created(client, editor, name="Linen Shirt", description="<p>Soft<script>x()</script></p>",
                            tags=["summer", "summer", "linen"], variants=[variant("LIN-S"), variant("LIN-M", eur=2199)])
    pid = product["id"]
    assert product["status"] == "draft"
    assert product["version"] == 1
    assert product["slug"] == "linen-shirt"
    assert product["description"] == "<p>Soft</p>"
    assert product["tags"] == ["summer", "linen"]
    assert [v["sku"] for v in product["variants"]] == ["LIN-S", "LIN-M"]
    assert product["variants"][0]["prices"][0] | {"id": None, "channel_id": None} == {
        "id": None, "channel_id": None, "channel": "web-eu", "amount": 1999, "currency": "EUR",
        "compare_at_amount": None, "valid_from": None, "valid_to": None}

    # Not on the storefront while a draft.
    assert (await client.get(f"/store/products/{product['slug']}")).status_code == 404

    submitted = await client.post(f"/admin/products/{pid}/submit", headers=editor)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "in_review"

    refused = await client.post(f"/admin/products/{pid}/approve", headers=editor, json={"comment": "ok"})
    assert refused.status_code == 403
    assert (await client.get(f"/admin/products/{pid}", headers=editor)).json()["status"] == "in_review"

    approved = await client.post(f"/admin/products/{pid}/approve", headers=manager, json={"comment": "Looks good"})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "published"
    assert body["review_comment"] == "Looks good"
    assert body["published_at"] is not None

    store = await client.get(f"/store/products/{product['slug']}")
    assert store.status_code == 200, store.text
    assert store.json()["price"] == {"amount": 1999, "currency": "EUR"}
    listed = await client.get("/store/products")
    assert [item["slug"] for item in listed.json()["items"]] == ["linen-shirt"]

    # Edit: a new version, an ETag for it, a revision naming the change, the storefront follows.
    current = await client.get(f"/admin/products/{pid}", headers=editor)
    etag = current.headers["etag"]
    edited = await client.patch(f"/admin/products/{pid}", headers={**editor, "if-match": etag},
                                json={"name": "Linen Shirt Deluxe"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == current.json()["version"] + 1
    assert edited.headers["etag"] != etag
    assert (await client.get(f"/store/products/{pid}")).json()["name"] == "Linen Shirt Deluxe"

    # Stale If-Match: 412 and nothing changes.
    stale = await client.patch(f"/admin/products/{pid}", headers={**editor, "if-match": etag},
                               json={"name": "Overwritten"})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition.stale"
    after = await client.get(f"/admin/products/{pid}", headers=editor)
    assert after.json()["name"] == "Linen Shirt Deluxe"
    assert after.headers["etag"] == edited.headers["etag"]

    trail = (await client.get(f"/admin/products/{pid}/revisions", headers=editor)).json()["items"]
    assert [(r["version"], r["action"]) for r in trail] == [(4, "update"), (3, "approve"), (2, "submit"),
                                                           (1, "create")]
    assert trail[0]["changes"] == {"name": {"from": "Linen Shirt", "to": "Linen Shirt Deluxe"}}
    assert trail[0]["actor"].startswith("staff:")
    assert trail[1]["comment"] == "Looks good"

    # Revert to version 3: the name comes back, the status stays published, a revert revision is recorded.
    reverted = await client.post(f"/admin/products/{pid}/revisions/3/revert",
                                 headers={**editor, "if-match": after.headers["etag"]})
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["name"] == "Linen Shirt"
    assert reverted.json()["status"] == "published"
    latest = (await client.get(f"/admin/products/{pid}/revisions/5", headers=editor)).json()
    assert latest["action"] == "revert"
    assert latest["comment"] == "Reverted to version 3"
    assert latest["changes"] == {"name": {"from": "Linen Shirt Deluxe", "to": "Linen Shirt"}}
    assert (await client.get(f"/store/products/{pid}")).json()["name"] == "Linen Shirt"

    archived = await client.post(f"/admin/products/{pid}/archive", headers=manager)
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert (await client.get(f"/store/products/{pid}")).status_code == 404
    assert (await client.get("/store/products")).json()["items"] == []

    names = (await session.scalars(select(OutboxEvent.name).order_by(OutboxEvent.created_at, OutboxEvent.id))).all()
    assert [n for n in names if n.startswith("product.")] == [
        "product.created", "product.submitted", "product.published", "product.updated", "product.updated",
        "product.archived"]


async def test_permissions(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    await seed_channels(session)
    reader = auth(settings, ["catalog:read"])
    assert (await client.get("/admin/products")).status_code == 401
    assert (await create(client, reader)).status_code == 403
    product = await created(client, auth(settings, EDITOR), variants=[variant("P-1")])
    assert (await client.post(f"/admin/products/{product['id']}/submit", headers=reader)).status_code == 403
    assert (await client.post(f"/admin/products/{product['id']}/publish",
                              headers=auth(settings, EDITOR))).status_code == 403
    assert (await client.get(f"/admin/products/{product['id']}", headers=reader)).status_code == 200


async def test_workflow_refusals(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    await seed_channels(session)
    manager = auth(settings, MANAGER)
    bare = await created(client, manager, name="No variants")
    pid = bare["id"]

    refused = await client.post(f"/admin/products/{pid}/publish", headers=manager)
    assert (refused.status_code, refused.json()["code"]) == (409, "catalog.not_publishable")
    unpriced = await client.post(f"/admin/products/{pid}/variants", headers=manager, json=variant("NV-1", eur=None))
    assert unpriced.status_code == 201, unpriced.text
    refused = await client.post(f"/admin/products/{pid}/publish", headers=manager)
    assert (refused.status_code, refused.json()["code"]) == (409, "catalog.not_publishable")

    wrong = await client.post(f"/admin/products/{pid}/approve", headers=manager)
    assert (wrong.status_code, wrong.json()["code"]) == (409, "catalog.invalid_transition")
    assert (await client.post(f"/admin/products/{pid}/submit", headers=manager)).status_code == 200
    for comment in (None, "   "):
        no_reason = await client.post(f"/admin/products/{pid}/reject", headers=manager, json={"comment": comment})
        assert (no_reason.status_code, no_reason.json()["code"]) == (422, "catalog.comment_required")
    rejected = await client.post(f"/admin/products/{pid}/reject", headers=manager, json={"comment": "Add a price"})
    assert rejected.status_code == 200
    assert rejected.json() | {"variants": None} == rejected.json() | {
        "status": "draft", "review_comment": "Add a price", "variants": None}
    count = await session.scalar(select(func.count()).select_from(ProductRevision)
                                 .where(ProductRevision.product_id == Product.id, Product.slug == bare["slug"]))
    assert count == 4  # create, variant, submit, reject: refusals recorded nothing


async def test_create_refusals_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    await seed_channels(session)
    editor = auth(settings, EDITOR)
    await created(client, editor, slug="taken", variants=[variant("SKU-TAKEN")])
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"slug": "taken"}, 409, "catalog.slug_taken"),
        ({"slug": "Not A Slug"}, 422, "validation.invalid"),
        ({"variants": [variant("SKU-TAKEN")]}, 409, "catalog.sku_taken"),
        ({"variants": [variant("DUP"), variant("DUP")]}, 409, "catalog.sku_taken"),
        ({"brand_id": "00000000-0000-7000-8000-00000000abcd"}, 422, "catalog.invalid_reference"),
        ({"category_id": "nope"}, 422, "catalog.invalid_reference"),
        ({"attributes": {"colour": "red"}}, 422, "catalog.invalid_attributes"),
        ({"publish_at": "2030-01-02T00:00:00Z", "unpublish_at": "2030-01-01T00:00:00Z"}, 422,
         "catalog.invalid_window"),
        ({"variants": [variant("Q", min_quantity=5, max_quantity=2)]}, 422, "catalog.invalid_quantity"),
        ({"variants": [{**variant("C"), "prices": [{"channel": "web-mars", "amount": 1, "currency": "EUR"}]}]},
         422, "catalog.unknown_channel"),
        ({"variants": [{**variant("C"), "prices": [{"channel": "web-eu", "amount": 1, "currency": "USD"}]}]},
         422, "catalog.currency_mismatch"),
        ({"variants": [{**variant("C"), "prices": [{"channel": "web-eu", "amount": -1, "currency": "EUR"}]}]},
         422, "validation.invalid"),
        ({"name": ""}, 422, "validation.invalid"),
        ({"unknown_field": 1}, 422, "validation.invalid"),
    ]
    for fields, status, code in cases:
        response = await create(client, editor, **fields)
        assert (response.status_code, response.json()["code"]) == (status, code), (fields, response.text)
    assert await session.scalar(select(func.count()).select_from(Product)) == 1


async def test_generated_slugs_are_unique(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    editor = auth(settings, EDITOR)
    slugs = [(await created(client, editor, name="Crème Brûlée Set!"))["slug"] for _ in range(3)]
    assert slugs == ["creme-brulee-set", "creme-brulee-set-2", "creme-brulee-set-3"]


async def test_patch_refusals_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    editor = auth(settings, EDITOR)
    await created(client, editor, slug="other")
    product = await created(client, editor, name="Mine", seo_title="SEO")
    url = f"/admin/products/{product['id']}"
    for body, status, code in [
        ({"slug": "other"}, 409, "catalog.slug_taken"),
        ({"name": None}, 422, "validation.invalid"),
        ({"brand_id": "00000000-0000-7000-8000-00000000abcd"}, 422, "catalog.invalid_reference"),
        ({"unpublish_at": "2000-01-01T00:00:00Z", "publish_at": "2001-01-01T00:00:00Z"}, 422,
         "catalog.invalid_window"),
    ]:
        response = await client.patch(url, json=body, headers=editor)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    again = await client.get(url, headers=editor)
    assert again.headers["etag"] == product["_etag"]
    assert again.json()["version"] == 1
    assert again.json()["slug"] == product["slug"]
    # null clears a nullable field; other fields stay.
    cleared = await client.patch(url, json={"seo_title": None}, headers=editor)
    assert cleared.json()["seo_title"] is None
    assert cleared.json()["name"] == "Mine"
    assert (await client.patch("/admin/products/not-an-id", json={}, headers=editor)).json()["code"] == (
        "catalog.product_not_found")


async def test_attributes_follow_the_product_type(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    from mercato.modules.catalog.models import Attribute, ProductType

    await seed_channels(session)
    session.add(Attribute(code="material", name="Material", type="select",
                          options=[{"value": "linen", "label": "Linen"}, {"value": "wool", "label": "Wool"}]))
    session.add(Attribute(code="size", name="Size", type="select", options=[{"value": "S", "label": "S"}]))
    kind = ProductType(name="Shirt", slug="shirt", attributes=[{"code": "material", "required": True}],
                       variant_options=["size"])
    session.add(kind)
    await session.commit()
    editor = auth(settings, EDITOR)
    missing = await create(client, editor, product_type_id=str(kind.id))
    assert (missing.status_code, missing.json()["code"]) == (422, "catalog.invalid_attributes")
    bad_option = await create(client, editor, product_type_id=str(kind.id), attributes={"material": "linen"},
                              variants=[variant("T-1", options={"colour": "red"})])
    assert (bad_option.status_code, bad_option.json()["code"]) == (422, "catalog.invalid_options")
    ok = await created(client, editor, product_type_id=str(kind.id), attributes={"material": "linen"},
                       variants=[variant("T-1", options={"size": "S"})])
    assert ok["attributes"] == {"material": "linen"}
    session.add(Attribute(code="pairs_with", name="Pairs with", type="reference"))
    kind.attributes = [{"code": "material", "required": True}, {"code": "pairs_with", "required": False}]
    await session.commit()
    dangling = await client.patch(f"/admin/products/{ok['id']}", headers=editor, json={
        "attributes": {"material": "linen", "pairs_with": "00000000-0000-7000-8000-00000000abcd"}})
    assert (dangling.status_code, dangling.json()["errors"][0]["field"]) == (422, "attributes.pairs_with")
    linked = await client.patch(f"/admin/products/{ok['id']}", headers=editor, json={
        "attributes": {"material": "linen", "pairs_with": ok["id"]}})
    assert linked.status_code == 200, linked.text
    wrong = await client.patch(f"/admin/products/{ok['id']}", headers=editor, json={"attributes": {"material": "x"}})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "catalog.invalid_attributes")


async def test_delete_only_drafts_and_archived(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    await seed_channels(session)
    manager = auth(settings, MANAGER)
    product = await created(client, manager, variants=[variant("D-1")])
    url = f"/admin/products/{product['id']}"
    assert (await client.post(f"{url}/publish", headers=manager)).status_code == 200
    refused = await client.delete(url, headers=manager)
    assert (refused.status_code, refused.json()["code"]) == (409, "catalog.product_not_deletable")
    assert (await client.post(f"{url}/archive", headers=manager)).status_code == 200
    assert (await client.delete(url, headers=manager)).status_code == 204
    assert (await client.get(url, headers=manager)).status_code == 404


async def test_list_filters_and_pages(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    await seed_channels(session)
    clothing = await make_category(session, "Clothing")
    shirts = await make_category(session, "Shirts", parent=clothing)
    brand = await make_brand(session, "Acme")
    await session.commit()
    editor = auth(settings, MANAGER)
    a = await created(client, editor, name="Alpha shirt", category_id=str(shirts.id), brand_id=str(brand.id),
                      variants=[variant("ALPHA-1")])
    b = await created(client, editor, name="Beta shoe", variants=[variant("BETA-1")])
    c = await created(client, editor, name="Gamma", category_id=str(clothing.id))
    await client.post(f"/admin/products/{b['id']}/publish", headers=editor)

    async def ids(**params: str) -> list[str]:
        response = await client.get("/admin/products", params=params, headers=editor)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(status="published") == [b["id"]]
    assert await ids(category=str(clothing.id)) == [c["id"], a["id"]]
    assert await ids(brand=str(brand.id)) == [a["id"]]
    assert await ids(q="alp") == [a["id"]]
    assert await ids(q="BETA-") == [b["id"]]
    assert await ids(q="%") == []
    first = (await client.get("/admin/products", params={"limit": 2}, headers=editor)).json()
    assert len(first["items"]) == 2
    assert first["items"][0]["variant_count"] == 0
    rest = (await client.get("/admin/products", params={"limit": 2, "cursor": first["next_cursor"]},
                             headers=editor)).json()
    assert [i["id"] for i in rest["items"]] == [a["id"]]
    assert rest["next_cursor"] is None
    for params, code in [({"status": "gone"}, "validation.invalid"), ({"brand": "x"}, "validation.invalid"),
                         ({"cursor": "garbage"}, "pagination.invalid_cursor")]:
        response = await client.get("/admin/products", params=params, headers=editor)
        assert (response.status_code, response.json()["code"]) == (422, code)


@pytest.mark.parametrize("page_size", [1, 50])
async def test_query_counts_are_pinned(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
    assert_max_queries: Callable[[int], Any], page_size: int,
) -> None:
    await seed_channels(session)
    editor = auth(settings, EDITOR)
    for n in range(page_size):
        product = await created(client, editor, name=f"P {n}", variants=[variant(f"QC-{n}-a"), variant(f"QC-{n}-b")])
    with assert_max_queries(4):
        detail = await client.get(f"/admin/products/{product['id']}", headers=editor)
    assert detail.status_code == 200
    assert len(detail.json()["variants"]) == 2
    with assert_max_queries(4):
        page = await client.get("/admin/products", params={"limit": 100}, headers=editor)
    assert len(page.json()["items"]) == page_size
