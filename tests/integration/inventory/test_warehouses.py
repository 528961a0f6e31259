"""/admin/warehouses over HTTP: CRUD with ETags, validation, permissions, deletion rules, and the
availability recompute when where a warehouse sells changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Variant
from mercato.modules.inventory.models import Availability, PurchaseOrder, StockLevel, Supplier, Warehouse
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import VariantSpec, channel_ids, make_product

ADDRESS = {"line1": "Lagerstraße 1", "city": "Berlin", "postal_code": "10115", "country_code": "de"}


def bearer(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return bearer(settings, "inventory:read", "inventory:write")


@pytest.fixture
def reader(settings: Settings) -> dict[str, str]:
    return bearer(settings, "inventory:read")


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def make_variants(session: AsyncSession, n: int = 1) -> list[Variant]:
    """Variants (committed, so the app sees them) of a new product."""
    product = await make_product(session, "Mug", variants=[VariantSpec() for _ in range(n)])
    variants = list((await session.execute(
        select(Variant).where(Variant.product_id == product.id).order_by(Variant.position)
    )).scalars())
    await session.commit()
    return variants


async def make_warehouse(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str], code: str, *,
    channels: tuple[str, ...] = ("web-eu",), **fields: Any,
) -> dict[str, Any]:
    known = await channel_ids(session)
    await session.commit()
    response = await client.post("/admin/warehouses", headers=headers, json={
        "code": code, "name": code.title(), "address": ADDRESS,
        "channel_ids": [str(known[c]) for c in channels], **fields,
    })
    assert response.status_code == 201, response.text
    warehouse: dict[str, Any] = response.json()
    return warehouse


async def adjust(client: httpx.AsyncClient, headers: dict[str, str], variant_id: Any, warehouse_id: str,
                 delta: int) -> httpx.Response:
    return await client.post("/admin/inventory/adjustments", headers=headers, json={
        "variant_id": str(variant_id), "warehouse_id": warehouse_id, "delta": delta, "reason": "test"})


# ---------------------------------------------------------------------------------------------
# CRUD


async def test_warehouse_crud_with_etags(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    known = await channel_ids(session)
    await session.commit()
    created = await client.post("/admin/warehouses", headers=writer, json={
        "code": "berlin-1", "name": "Berlin", "address": {**ADDRESS, "line2": "Hof 2"}, "latitude": 52.52,
        "longitude": 13.40, "priority": 10, "click_and_collect": True, "channel_ids": [str(known["web-eu"])],
        "ship_countries": ["de", "AT"],
    })
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/admin/warehouses/{body['id']}"
    assert body["country_code"] == "DE"
    assert body["address"] == {**ADDRESS, "country_code": "DE", "line2": "Hof 2", "region": None}
    assert body["ship_countries"] == ["DE", "AT"]
    assert body["channel_ids"] == [str(known["web-eu"])]
    assert (body["priority"], body["click_and_collect"], body["is_active"], body["version"]) == (10, True, True, 1)

    dup = await client.post("/admin/warehouses", headers=writer,
                            json={"code": "berlin-1", "name": "Other", "address": ADDRESS})
    assert dup.status_code == 409
    assert dup.json()["code"] == "inventory.warehouse_code_taken"
    assert await count(session, Warehouse) == 1

    url = f"/admin/warehouses/{body['id']}"
    fetched = await client.get(url, headers=writer)
    assert fetched.json() == body
    etag = fetched.headers["etag"]
    assert etag == created.headers["etag"]

    changed = await client.patch(url, headers={**writer, "if-match": etag},
                                 json={"name": "Berlin Nord", "latitude": None, "priority": 5})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["latitude"], changed.json()["longitude"]) == \
        ("Berlin Nord", None, 13.40)
    assert changed.json()["version"] == 2
    assert changed.headers["etag"] != etag

    stale = await client.patch(url, headers={**writer, "if-match": etag}, json={"name": "Stale"})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition.stale"
    assert (await client.delete(url, headers={**writer, "if-match": etag})).status_code == 412
    assert (await client.get(url, headers=writer)).json()["name"] == "Berlin Nord"

    moved = await client.patch(url, headers=writer, json={"address": {**ADDRESS, "country_code": "AT",
                                                                      "city": "Wien"}})
    assert (moved.json()["country_code"], moved.json()["address"]["city"]) == ("AT", "Wien")
    assert moved.json()["address"]["line2"] is None  # an address replaces the whole address

    await make_warehouse(client, session, writer, "aachen")
    listed = (await client.get("/admin/warehouses", headers=writer, params={"limit": 1})).json()
    assert [w["code"] for w in listed["items"]] == ["aachen"]
    rest = (await client.get("/admin/warehouses", headers=writer,
                             params={"limit": 1, "cursor": listed["next_cursor"]})).json()
    assert ([w["code"] for w in rest["items"]], rest["next_cursor"]) == (["berlin-1"], None)
    clash = await client.patch(url, headers=writer, json={"code": "aachen"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "inventory.warehouse_code_taken"

    assert (await client.delete(url, headers=writer)).status_code == 204
    missing = await client.get(url, headers=writer)
    assert missing.status_code == 404
    assert missing.json()["code"] == "inventory.warehouse_not_found"
    assert (await client.get("/admin/warehouses/not-an-id", headers=writer)).status_code == 404
    assert await count(session, Warehouse) == 1


@pytest.mark.parametrize("payload", [
    {"code": "Upper", "name": "x", "address": ADDRESS},
    {"code": "-dash", "name": "x", "address": ADDRESS},
    {"code": "a" * 51, "name": "x", "address": ADDRESS},
    {"code": "ok", "name": "", "address": ADDRESS},
    {"code": "ok", "name": "x"},
    {"code": "ok", "name": "x", "address": {"line1": "x", "city": "y", "country_code": "DE"}},
    {"code": "ok", "name": "x", "address": ADDRESS, "latitude": 90.5},
    {"code": "ok", "name": "x", "address": ADDRESS, "longitude": -181},
    {"code": "ok", "name": "x", "address": ADDRESS, "priority": -1},
    {"code": "ok", "name": "x", "address": ADDRESS, "priority": "1"},
    {"code": "ok", "name": "x", "address": ADDRESS, "extra": 1},
])
async def test_malformed_warehouses_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], payload: dict[str, Any]
) -> None:
    response = await client.post("/admin/warehouses", headers=writer, json=payload)
    assert response.status_code == 422
    assert response.json()["code"] == "validation.invalid"
    assert await count(session, Warehouse) == 0


async def test_unknown_channels_and_countries_are_named(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    known = await channel_ids(session)
    await session.commit()
    response = await client.post("/admin/warehouses", headers=writer, json={
        "code": "bad", "name": "Bad", "address": {**ADDRESS, "country_code": "ZZ"},
        "channel_ids": [str(known["web-eu"]), str(uuid.uuid4()), "nope"], "ship_countries": ["DE", "XX"],
    })
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "inventory.invalid"
    assert sorted(e["field"] for e in problem["errors"]) == \
        ["address.country_code", "channel_ids[1]", "channel_ids[2]", "ship_countries[1]"]
    assert await count(session, Warehouse) == 0

    warehouse = await make_warehouse(client, session, writer, "good")
    refused = await client.patch(f"/admin/warehouses/{warehouse['id']}", headers=writer,
                                 json={"channel_ids": [str(uuid.uuid4())], "name": "Renamed"})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["channel_ids[0]"]
    after = (await client.get(f"/admin/warehouses/{warehouse['id']}", headers=writer)).json()
    assert (after["name"], after["version"], after["channel_ids"]) == ("Good", 1, [str(known["web-eu"])])


async def test_changes_need_inventory_write(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, writer: dict[str, str],
    reader: dict[str, str],
) -> None:
    warehouse = await make_warehouse(client, session, writer, "main")
    url = f"/admin/warehouses/{warehouse['id']}"
    refused = await client.post("/admin/warehouses", headers=reader,
                                json={"code": "other", "name": "Other", "address": ADDRESS})
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.forbidden"
    assert (await client.patch(url, headers=reader, json={"name": "x"})).status_code == 403
    assert (await client.delete(url, headers=reader)).status_code == 403
    assert (await client.get(url, headers=reader)).status_code == 200
    assert (await client.get("/admin/warehouses")).status_code == 401
    catalogue_only = bearer(settings, "catalog:read")
    assert (await client.get("/admin/warehouses", headers=catalogue_only)).status_code == 403
    assert await count(session, Warehouse) == 1
    assert (await client.get(url, headers=reader)).json()["version"] == 1


# ---------------------------------------------------------------------------------------------
# deletion


async def test_a_warehouse_with_stock_or_history_cannot_be_deleted(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    stocked = await make_warehouse(client, session, writer, "stocked")
    assert (await adjust(client, writer, variant.id, stocked["id"], 5)).status_code == 201
    refused = await client.delete(f"/admin/warehouses/{stocked['id']}", headers=writer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.warehouse_in_use"

    # Back to zero, but the ledger keeps its history: still in use.
    assert (await adjust(client, writer, variant.id, stocked["id"], -5)).status_code == 201
    again = await client.delete(f"/admin/warehouses/{stocked['id']}", headers=writer)
    assert again.status_code == 409
    assert await count(session, Warehouse) == 1
    assert await count(session, StockLevel) == 1


async def test_a_warehouse_a_purchase_order_names_cannot_be_deleted(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    warehouse = await make_warehouse(client, session, writer, "receiving")
    supplier = Supplier(code="acme", name="Acme")
    session.add(supplier)
    await session.flush()
    session.add(PurchaseOrder(number="PO-T-1", supplier_id=supplier.id, warehouse_id=uuid.UUID(warehouse["id"]),
                              currency="EUR"))
    await session.commit()
    refused = await client.delete(f"/admin/warehouses/{warehouse['id']}", headers=writer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.warehouse_in_use"
    assert await count(session, Warehouse) == 1


async def test_deleting_an_unused_warehouse_removes_its_empty_stock_rows(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "empty")
    keep = await make_warehouse(client, session, writer, "keep")
    for w in (warehouse, keep):
        levels = await client.patch("/admin/inventory/levels", headers=writer, json={
            "variant_id": str(variant.id), "warehouse_id": w["id"], "safety_stock": 2})
        assert levels.status_code == 200, levels.text
    assert await count(session, StockLevel) == 2

    assert (await client.delete(f"/admin/warehouses/{warehouse['id']}", headers=writer)).status_code == 204
    assert await count(session, Warehouse) == 1
    remaining = (await session.execute(select(StockLevel.warehouse_id))).scalars().all()
    assert [str(w) for w in remaining] == [keep["id"]]


# ---------------------------------------------------------------------------------------------
# where it sells


async def sellable(session: AsyncSession, variant_id: uuid.UUID) -> dict[uuid.UUID, bool]:
    rows = await session.execute(select(Availability.channel_id, Availability.sellable)
                                 .where(Availability.variant_id == variant_id))
    return {channel: flag for channel, flag in rows.all()}


async def test_changing_channels_or_active_flag_recomputes_availability(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    known = await channel_ids(session)
    variant, = await make_variants(session)
    warehouse = await make_warehouse(client, session, writer, "eu-only")
    assert (await adjust(client, writer, variant.id, warehouse["id"], 3)).status_code == 201
    now = await sellable(session, variant.id)
    assert (now[known["web-eu"]], now[known["web-us"]]) == (True, False)

    url = f"/admin/warehouses/{warehouse['id']}"
    moved = await client.patch(url, headers=writer, json={"channel_ids": [str(known["web-us"])]})
    assert moved.status_code == 200, moved.text
    now = await sellable(session, variant.id)
    assert (now[known["web-eu"]], now[known["web-us"]]) == (False, True)

    assert (await client.patch(url, headers=writer, json={"is_active": False})).status_code == 200
    assert not any((await sellable(session, variant.id)).values())
    assert (await client.patch(url, headers=writer, json={"is_active": True})).status_code == 200
    assert (await sellable(session, variant.id))[known["web-us"]] is True
