"""/admin/suppliers over HTTP: CRUD with ETags, keyset lists, validation, and deletes refused
while purchase orders name the supplier."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.fixtures.auth import staff_token_for
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse

URL = "/admin/suppliers"


def auth(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return auth(settings, "inventory:read", "inventory:write")


ACME = {"code": "ACME", "name": "Acme Kettles", "email": "orders@acme.example", "phone": "+49 30 123",
        "address": {"line1": "Hafenweg 1", "city": "Hamburg", "postal_code": "20457", "country_code": "de"},
        "lead_time_days": 10}


async def supplier_count(session: AsyncSession) -> int:
    return int((await session.execute(text("SELECT count(*) FROM suppliers"))).scalar_one())


async def test_crud_with_etags(client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]) -> None:
    created = await client.post(URL, headers=writer, json=ACME)
    assert created.status_code == 201, created.text
    supplier: dict[str, Any] = created.json()
    assert created.headers["location"] == f"{URL}/{supplier['id']}"
    assert supplier["address"] == {"line1": "Hafenweg 1", "city": "Hamburg", "postal_code": "20457",
                                   "country_code": "DE"}
    assert (supplier["lead_time_days"], supplier["is_active"], supplier["version"]) == (10, True, 1)

    dup = await client.post(URL, headers=writer, json={**ACME, "name": "Other"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "inventory.supplier_code_taken"

    url, etag = f"{URL}/{supplier['id']}", created.headers["etag"]
    fetched = await client.get(url, headers=writer)
    assert fetched.headers["etag"] == etag
    updated = await client.patch(url, headers={**writer, "if-match": etag},
                                 json={"name": "Acme GmbH", "email": None, "lead_time_days": 0, "is_active": False})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["email"], body["phone"], body["lead_time_days"], body["is_active"], body["version"]) \
        == ("Acme GmbH", None, "+49 30 123", 0, False, 2)
    stale = await client.patch(url, headers={**writer, "if-match": etag}, json={"name": "Stale"})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition.stale"
    assert (await client.get(url, headers=writer)).json()["name"] == "Acme GmbH"

    await client.post(URL, headers=writer, json={**ACME, "code": "BETA"})
    clash = await client.patch(url, headers=writer, json={"code": "BETA"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "inventory.supplier_code_taken"

    stale_delete = await client.delete(url, headers={**writer, "if-match": etag})
    assert stale_delete.status_code == 412
    assert (await client.delete(url, headers={**writer, "if-match": updated.headers["etag"]})).status_code == 204
    gone = await client.get(url, headers=writer)
    assert gone.status_code == 404
    assert gone.json()["code"] == "inventory.not_found"
    assert await supplier_count(session) == 1


async def test_list_is_keyset_paginated_and_filtered(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    for code, active in (("C-3", True), ("A-1", True), ("B-2", False)):
        assert (await client.post(URL, headers=writer, json={"code": code, "name": code,
                                                            "is_active": active})).status_code == 201
    first = (await client.get(URL, headers=writer, params={"limit": 2})).json()
    assert [s["code"] for s in first["items"]] == ["A-1", "B-2"]
    rest = (await client.get(URL, headers=writer, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert ([s["code"] for s in rest["items"]], rest["next_cursor"]) == (["C-3"], None)
    active = (await client.get(URL, headers=writer, params={"is_active": "true"})).json()
    assert [s["code"] for s in active["items"]] == ["A-1", "C-3"]
    bad_cursor = await client.get(URL, headers=writer, params={"cursor": "garbage"})
    assert bad_cursor.status_code == 422


@pytest.mark.parametrize("payload", [
    {**ACME, "lead_time_days": -1},
    {**ACME, "email": "not-an-email"},
    {**ACME, "code": ""},
    {**ACME, "code": "has space"},
    {**ACME, "address": {"line1": "x", "country_code": "DEU"}},
    {**ACME, "address": {"planet": "Mars"}},
    {**ACME, "unknown": 1},
    {"code": "X"},
])
async def test_invalid_input_creates_nothing(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], payload: dict[str, Any]
) -> None:
    response = await client.post(URL, headers=writer, json=payload)
    assert response.status_code == 422, response.text
    assert await supplier_count(session) == 0


async def test_a_supplier_with_purchase_orders_cannot_be_deleted(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    warehouse = await make_warehouse(session)
    [variant] = await make_tracked_variants(session, 1)
    await session.commit()
    supplier = (await client.post(URL, headers=writer, json=ACME)).json()
    order = await client.post("/admin/purchase-orders", headers=writer, json={
        "supplier_id": supplier["id"], "warehouse_id": str(warehouse.id), "currency": "EUR",
        "lines": [{"variant_id": str(variant), "quantity_ordered": 1, "unit_cost": 100}]})
    assert order.status_code == 201, order.text
    refused = await client.delete(f"{URL}/{supplier['id']}", headers=writer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.supplier_in_use"
    assert (await client.get(f"{URL}/{supplier['id']}", headers=writer)).status_code == 200

    # Deactivated: existing orders keep it, new ones may not name it.
    await client.patch(f"{URL}/{supplier['id']}", headers=writer, json={"is_active": False})
    new_order = await client.post("/admin/purchase-orders", headers=writer, json={
        "supplier_id": supplier["id"], "warehouse_id": str(warehouse.id), "currency": "EUR", "lines": []})
    assert new_order.status_code == 422
    assert new_order.json()["errors"][0]["code"] == "inactive"
    assert await supplier_count(session) == 1


async def test_unknown_ids_and_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, writer: dict[str, str]
) -> None:
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(method, f"{URL}/{bad}", headers=writer,
                                            json={} if method == "PATCH" else None)
            assert response.status_code == 404, (method, bad)
            assert response.json()["code"] == "inventory.not_found"
    supplier = (await client.post(URL, headers=writer, json=ACME)).json()
    reader = auth(settings, "inventory:read")
    assert (await client.get(URL, headers=reader)).status_code == 200
    for method, path in (("POST", URL), ("PATCH", f"{URL}/{supplier['id']}"), ("DELETE", f"{URL}/{supplier['id']}")):
        response = await client.request(method, path, headers=reader, json={**ACME, "code": "NEW"}
                                        if method == "POST" else ({"name": "x"} if method == "PATCH" else None))
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "auth.forbidden"
    assert (await client.get(URL, headers=auth(settings, "catalog:read"))).status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(f"{URL}/{supplier['id']}", headers=reader)).json()["name"] == "Acme Kettles"
    assert await supplier_count(session) == 1
