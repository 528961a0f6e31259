"""/admin/inventory over HTTP: the stock view, adjustments, stock settings, the movement list and the
per-variant policy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.inventory.models import Availability, InventoryItem, StockBucket, StockLevel, StockMovement
from tests.fixtures.test_session import TEST_STAFF_ID
from tests.integration.catalog.factories import channel_ids
from tests.integration.inventory.test_warehouses import adjust, bearer, count, make_variants, make_warehouse


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return bearer(settings, "inventory:read", "inventory:write")


@pytest.fixture
def reader(settings: Settings) -> dict[str, str]:
    return bearer(settings, "inventory:read")


async def view(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/admin/inventory", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------------------------------------
# adjustments, the stock view and the ledger


async def test_adjustments_show_in_the_stock_view_and_the_ledger(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], reader: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    main = await make_warehouse(client, session, writer, "main", priority=1)
    spare = await make_warehouse(client, session, writer, "spare", priority=2)

    added = await adjust(client, writer, variant.id, main["id"], 10)
    assert added.status_code == 201, added.text
    assert (added.json()["on_hand"], added.json()["available"], added.json()["sku"]) == (10, 10, variant.sku)
    counted = await client.post("/admin/inventory/adjustments", headers=writer, json={
        "variant_id": str(variant.id), "warehouse_id": main["id"], "set_on_hand": 4, "reason": "Cycle count"})
    assert counted.status_code == 201
    assert counted.json()["on_hand"] == 4
    assert (await adjust(client, writer, variant.id, spare["id"], 2)).status_code == 201

    stock = await view(client, reader, variant_id=str(variant.id))
    assert stock["next_cursor"] is None
    assert [(r["warehouse_id"], r["warehouse_code"], r["on_hand"], r["reserved"], r["available"])
            for r in stock["items"]] == [(main["id"], "main", 4, 0, 4), (spare["id"], "spare", 2, 0, 2)]
    only_main = await view(client, reader, variant_id=str(variant.id), warehouse_id=main["id"])
    assert [r["warehouse_code"] for r in only_main["items"]] == ["main"]

    ledger = (await client.get("/admin/inventory/movements", headers=reader,
                               params={"variant_id": str(variant.id), "warehouse_id": main["id"]})).json()
    assert [(m["kind"], m["on_hand_delta"], m["quantity"], m["reason"]) for m in ledger["items"]] == \
        [("adjustment", -6, 6, "Cycle count"), ("adjustment", 10, 10, "test")]
    assert ledger["items"][0]["actor"] == f"staff:{TEST_STAFF_ID}"
    assert ledger["items"][0]["id"] > ledger["items"][1]["id"]

    first = (await client.get("/admin/inventory/movements", headers=reader,
                              params={"variant_id": str(variant.id), "limit": 2})).json()
    assert len(first["items"]) == 2
    rest = (await client.get("/admin/inventory/movements", headers=reader,
                             params={"variant_id": str(variant.id), "limit": 2, "cursor": first["next_cursor"]})).json()
    assert ([m["on_hand_delta"] for m in rest["items"]], rest["next_cursor"]) == ([10], None)

    none = await client.get("/admin/inventory/movements", headers=reader, params={"kind": "receipt"})
    assert none.json()["items"] == []
    future = await client.get("/admin/inventory/movements", headers=reader,
                              params={"since": "2999-01-01T00:00:00Z"})
    assert future.json()["items"] == []
    past = await client.get("/admin/inventory/movements", headers=reader, params={"until": "2000-01-01T00:00:00Z"})
    assert past.json()["items"] == []
    bogus = await client.get("/admin/inventory/movements", headers=reader, params={"kind": "theft"})
    assert bogus.status_code == 422
    assert bogus.json()["code"] == "inventory.invalid"


@pytest.mark.parametrize("change", [
    {"delta": 3, "set_on_hand": 3, "reason": "both"},
    {"reason": "neither"},
    {"delta": 0, "reason": "zero"},
    {"delta": 3},
    {"delta": 3, "reason": ""},
    {"delta": 3, "reason": "x" * 501},
    {"set_on_hand": -1, "reason": "negative count"},
    {"delta": "3", "reason": "string"},
])
async def test_malformed_adjustments_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], change: dict[str, Any]
) -> None:
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "main")
    response = await client.post("/admin/inventory/adjustments", headers=writer, json={
        "variant_id": str(variant.id), "warehouse_id": warehouse["id"], **change})
    assert response.status_code == 422
    assert response.json()["code"] == "validation.invalid"
    assert await count(session, StockMovement) == 0
    assert await count(session, StockLevel) == 0


async def test_refused_adjustments(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], reader: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "main")
    assert (await adjust(client, writer, variant.id, warehouse["id"], 2)).status_code == 201

    below = await adjust(client, writer, variant.id, warehouse["id"], -3)
    assert below.status_code == 409
    assert below.json()["code"] == "inventory.negative_on_hand"
    unknown_variant = await adjust(client, writer, uuid.uuid4(), warehouse["id"], 1)
    assert (unknown_variant.status_code, unknown_variant.json()["code"]) == (404, "inventory.variant_not_found")
    unknown_warehouse = await adjust(client, writer, variant.id, str(uuid.uuid4()), 1)
    assert (unknown_warehouse.status_code, unknown_warehouse.json()["code"]) == \
        (404, "inventory.warehouse_not_found")
    forbidden = await adjust(client, reader, variant.id, warehouse["id"], 1)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "auth.forbidden")

    assert await count(session, StockMovement) == 1
    assert [r["on_hand"] for r in (await view(client, reader, variant_id=str(variant.id)))["items"]] == [2]


async def test_an_adjustment_with_an_idempotency_key_applies_once(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "main")
    body = {"variant_id": str(variant.id), "warehouse_id": warehouse["id"], "delta": 5, "reason": "delivery"}
    headers = {**writer, "idempotency-key": "adj-1"}
    first = await client.post("/admin/inventory/adjustments", headers=headers, json=body)
    again = await client.post("/admin/inventory/adjustments", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(session, StockMovement) == 1
    other = await client.post("/admin/inventory/adjustments", headers=headers, json={**body, "delta": 6})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency.mismatch")
    assert await count(session, StockMovement) == 1


async def test_the_stock_view_needs_a_variant_or_a_warehouse_and_pages_a_warehouse(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], reader: dict[str, str]
) -> None:
    refused = await client.get("/admin/inventory", headers=reader)
    assert (refused.status_code, refused.json()["code"]) == (422, "inventory.invalid")
    malformed = await client.get("/admin/inventory", headers=reader, params={"variant_id": "nope"})
    assert malformed.status_code == 422
    assert (await client.get("/admin/inventory", params={"variant_id": str(uuid.uuid4())})).status_code == 401

    variants = await make_variants(session, 3)
    warehouse = await make_warehouse(client, session, writer, "main")
    for n, variant in enumerate(variants, start=1):
        assert (await adjust(client, writer, variant.id, warehouse["id"], n)).status_code == 201
    first = await view(client, reader, warehouse_id=warehouse["id"], limit=2)
    assert first["next_cursor"]
    rest = await view(client, reader, warehouse_id=warehouse["id"], limit=2, cursor=first["next_cursor"])
    assert rest["next_cursor"] is None
    seen = [r["variant_id"] for r in first["items"] + rest["items"]]
    assert seen == sorted(str(v.id) for v in variants)
    on_hand = {str(v.id): n for n, v in enumerate(variants, start=1)}
    assert all(r["on_hand"] == on_hand[r["variant_id"]] for r in first["items"] + rest["items"])
    bad_cursor = await client.get("/admin/inventory", headers=reader,
                                  params={"warehouse_id": warehouse["id"], "cursor": "garbage"})
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (422, "pagination.invalid_cursor")


async def test_stock_settings(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], reader: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "main")
    assert (await adjust(client, writer, variant.id, warehouse["id"], 10)).status_code == 201
    target = {"variant_id": str(variant.id), "warehouse_id": warehouse["id"]}

    changed = await client.patch("/admin/inventory/levels", headers=writer,
                                 json={**target, "safety_stock": 3, "reorder_point": 5})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["safety_stock"], changed.json()["available"]) == (3, 7)
    kept = await client.patch("/admin/inventory/levels", headers=writer, json={**target, "reorder_quantity": 20})
    assert kept.json()["safety_stock"] == 3
    level = (await session.execute(select(StockLevel).where(StockLevel.variant_id == variant.id)
                                   .execution_options(populate_existing=True))).scalar_one()
    assert (level.reorder_point, level.reorder_quantity) == (5, 20)

    negative = await client.patch("/admin/inventory/levels", headers=writer, json={**target, "safety_stock": -1})
    assert (negative.status_code, negative.json()["code"]) == (422, "validation.invalid")
    forbidden = await client.patch("/admin/inventory/levels", headers=reader, json={**target, "safety_stock": 0})
    assert forbidden.status_code == 403
    assert [r["safety_stock"] for r in (await view(client, reader, variant_id=str(variant.id)))["items"]] == [3]


# ---------------------------------------------------------------------------------------------
# per-variant policy


async def test_item_policy_defaults_etag_and_effects(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], reader: dict[str, str]
) -> None:
    known = await channel_ids(session)
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "main")
    url = f"/admin/inventory/items/{variant.id}"

    defaults = await client.get(url, headers=reader)
    assert defaults.status_code == 200
    assert defaults.json() == {"variant_id": str(variant.id), "backorder_limit": 0, "preorder_release_at": None,
                               "preorder_cap": 0, "lot_tracked": False, "buckets": 1, "version": 0}
    etag = defaults.headers["etag"]

    # A stock row with nothing on hand is not sellable until backorders are allowed.
    assert (await client.patch("/admin/inventory/levels", headers=writer, json={
        "variant_id": str(variant.id), "warehouse_id": warehouse["id"], "safety_stock": 0})).status_code == 200
    eu = select(Availability.sellable).where(Availability.variant_id == variant.id,
                                             Availability.channel_id == known["web-eu"])
    assert await session.scalar(eu) is not True

    put = await client.put(url, headers={**writer, "if-match": etag}, json={"backorder_limit": 5, "buckets": 4})
    assert put.status_code == 200, put.text
    assert (put.json()["backorder_limit"], put.json()["buckets"], put.json()["version"]) == (5, 4, 1)
    assert put.headers["etag"] != etag
    assert await session.scalar(eu) is True
    stock_id = await session.scalar(select(StockLevel.id).where(StockLevel.variant_id == variant.id))
    assert await count(session, StockBucket, StockBucket.stock_id == stock_id) == 4

    stale = await client.put(url, headers={**writer, "if-match": etag}, json={"buckets": 2})
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition.stale")
    fetched = await client.get(url, headers=reader)
    assert (fetched.json()["buckets"], fetched.json()["version"]) == (4, 1)
    assert fetched.headers["etag"] == put.headers["etag"]

    reset = await client.put(url, headers={**writer, "if-match": put.headers["etag"]}, json={})
    assert (reset.json()["backorder_limit"], reset.json()["buckets"], reset.json()["version"]) == (0, 1, 2)
    assert await session.scalar(eu) is False


async def test_item_policy_validation_and_permissions(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], reader: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    url = f"/admin/inventory/items/{variant.id}"

    no_cap = await client.put(url, headers=writer, json={"preorder_release_at": "2030-01-01T00:00:00Z"})
    assert (no_cap.status_code, no_cap.json()["code"]) == (422, "inventory.invalid")
    assert [e["field"] for e in no_cap.json()["errors"]] == ["preorder_cap"]
    for bad in ({"buckets": 0}, {"buckets": 65}, {"backorder_limit": -1}, {"preorder_cap": -1},
                {"preorder_release_at": "2030-01-01T00:00:00"}, {"lot_tracked": "yes", "extra": 1}):
        response = await client.put(url, headers=writer, json=bad)
        assert response.status_code == 422, bad
    assert (await client.put(url, headers=reader, json={"buckets": 2})).status_code == 403
    assert await count(session, InventoryItem) == 0

    missing = await client.get(f"/admin/inventory/items/{uuid.uuid4()}", headers=reader)
    assert (missing.status_code, missing.json()["code"]) == (404, "inventory.variant_not_found")
    assert (await client.put("/admin/inventory/items/nope", headers=writer, json={})).status_code == 404

    preorder = await client.put(url, headers=writer, json={"preorder_release_at": "2030-01-01T02:00:00+02:00",
                                                           "preorder_cap": 50, "lot_tracked": True})
    assert preorder.status_code == 200, preorder.text
    assert preorder.json()["preorder_release_at"] == "2030-01-01T00:00:00Z"
    assert (preorder.json()["preorder_cap"], preorder.json()["lot_tracked"]) == (50, True)
    assert await count(session, InventoryItem) == 1
