"""/admin/inventory/reservations and /allocations over HTTP: holds, refresh, release, allocation,
shipment, verification; permissions and bad input."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.inventory import stock
from mercato.modules.inventory.models import StockMovement
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return bearer(staff_token_for(settings, ["inventory:read", "inventory:write"]))


async def _stocked(session: AsyncSession, units: int) -> tuple[str, str]:
    [variant] = await make_tracked_variants(session)
    warehouse = await make_warehouse(session, channels=("web-eu",))
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=warehouse.id, kind="receipt", delta=units,
                               actor="test")
    await session.commit()
    return str(variant), str(warehouse.id)


async def _movements(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(StockMovement))).scalar_one())


async def test_hold_refresh_allocate_ship(client: httpx.AsyncClient, session: AsyncSession,
                                          writer: dict[str, str]) -> None:
    variant, warehouse = await _stocked(session, 5)
    held = await client.post("/admin/inventory/reservations", headers=writer, json={
        "reference": "cart:1", "lines": [{"variant_id": variant, "quantity": 2}], "channel": "web-eu",
        "country": "de"})
    assert held.status_code == 201, held.text
    [item] = held.json()["items"]
    assert (item["variant_id"], item["warehouse_id"], item["quantity"]) == (variant, warehouse, 2)

    refreshed = await client.post("/admin/inventory/reservations/refresh", headers=writer,
                                  json={"reference": "cart:1", "ttl_s": 600})
    assert refreshed.json() == {"count": 1}
    listed = await client.get("/admin/inventory/reservations", headers=writer, params={"reference": "cart:1"})
    assert [i["quantity"] for i in listed.json()["items"]] == [2]

    allocated = await client.post("/admin/inventory/allocations", headers=writer,
                                  json={"reference": "cart:1", "order_reference": "order:9"})
    assert allocated.status_code == 201, allocated.text
    [allocation] = allocated.json()["items"]
    shipped = await client.post(f"/admin/inventory/allocations/{allocation['id']}/shipments", headers=writer,
                                json={"quantity": 2, "reference_id": "ful-1"})
    assert shipped.status_code == 201, shipped.text
    assert (shipped.json()["quantity"], shipped.json()["shipped"]) == (0, 2)
    too_many = await client.post(f"/admin/inventory/allocations/{allocation['id']}/shipments", headers=writer,
                                 json={"quantity": 1})
    assert too_many.status_code == 422
    verified = await client.get("/admin/inventory/verify", headers=writer)
    assert verified.json() == {"ok": True, "discrepancies": []}
    on_hand = (await session.execute(text("SELECT on_hand FROM stock_levels WHERE variant_id = :v"),
                                     {"v": variant})).scalar_one()
    assert on_hand == 3


async def test_not_enough_stock_is_409_and_holds_nothing(client: httpx.AsyncClient, session: AsyncSession,
                                                         writer: dict[str, str]) -> None:
    variant, _ = await _stocked(session, 1)
    [other] = await make_tracked_variants(session, name="Unstocked")
    await session.commit()
    before = await _movements(session)
    refused = await client.post("/admin/inventory/reservations", headers=writer, json={
        "reference": "cart:2", "lines": [{"variant_id": variant, "quantity": 1},
                                         {"variant_id": str(other), "quantity": 1}]})
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "inventory.insufficient_stock"
    assert body["errors"][0]["field"] == f"lines[{other}]"
    assert await _movements(session) == before  # all lines or none
    assert (await client.get("/admin/inventory/reservations", headers=writer,
                             params={"reference": "cart:2"})).json()["items"] == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"reference": "c", "lines": [{"variant_id": "nope", "quantity": 1}]}, 422, "inventory.invalid"),
    ({"reference": "c", "lines": [{"variant_id": "00000000-0000-0000-0000-000000000001", "quantity": 1}]},
     404, "inventory.variant_not_found"),
    ({"reference": "c", "lines": [{"variant_id": "00000000-0000-0000-0000-000000000001", "quantity": 0}]},
     422, "validation.invalid"),
    ({"reference": "c", "lines": []}, 422, "validation.invalid"),
    ({"reference": "c", "lines": [{"variant_id": "00000000-0000-0000-0000-000000000001", "quantity": 1}],
      "channel": "nowhere"}, 404, "channel.not_found"),
    ({"reference": "c", "lines": [{"variant_id": "00000000-0000-0000-0000-000000000001", "quantity": 1}],
      "strategy": "cheapest"}, 422, "inventory.invalid"),
])
async def test_bad_reservations_are_refused(client: httpx.AsyncClient, writer: dict[str, str],
                                            body: dict[str, object], status: int, code: str) -> None:
    response = await client.post("/admin/inventory/reservations", headers=writer, json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_release_allocate_and_refresh_of_nothing(client: httpx.AsyncClient, session: AsyncSession,
                                                       writer: dict[str, str]) -> None:
    variant, _ = await _stocked(session, 3)
    await client.post("/admin/inventory/reservations", headers=writer,
                      json={"reference": "cart:3", "lines": [{"variant_id": variant, "quantity": 3}]})
    released = await client.post("/admin/inventory/reservations/release", headers=writer,
                                 json={"reference": "cart:3", "variant_ids": [variant]})
    assert released.json() == {"count": 3}
    for path, body in (("/admin/inventory/reservations/refresh", {"reference": "cart:3"}),
                       ("/admin/inventory/allocations", {"reference": "cart:3", "order_reference": "order:1"})):
        response = await client.post(path, headers=writer, json=body)
        assert response.status_code == 404
        assert response.json()["code"] == "inventory.reservation_not_found"
    missing = await client.post("/admin/inventory/allocations/not-an-id/shipments", headers=writer,
                                json={"quantity": 1})
    assert missing.json()["code"] == "inventory.allocation_not_found"


async def test_permissions(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    variant, _ = await _stocked(session, 3)
    reader = bearer(staff_token_for(settings, ["inventory:read"]))
    refused = await client.post("/admin/inventory/reservations", headers=reader,
                                json={"reference": "c", "lines": [{"variant_id": variant, "quantity": 1}]})
    assert refused.status_code == 403
    assert (await client.get("/admin/inventory/verify")).status_code == 401
    assert (await client.get("/admin/inventory/verify", headers=reader)).status_code == 200


async def test_a_reservation_costs_a_fixed_number_of_statements(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], assert_max_queries: object,
) -> None:
    """The hot path: the staff session check, the candidate read (which also checks the variants),
    then one statement taking and holding the units of every line: three, however many lines."""
    [a, b, c] = await make_tracked_variants(session, 3)
    warehouse = await make_warehouse(session)
    for variant in (a, b, c):
        await stock.change_on_hand(session, variant_id=variant, warehouse_id=warehouse.id, kind="receipt",
                                   delta=100, actor="test")
    await session.commit()
    with assert_max_queries(3) as one:  # type: ignore[operator]
        response = await client.post("/admin/inventory/reservations", headers=writer, json={
            "reference": "cart:q1", "lines": [{"variant_id": str(a), "quantity": 1}]})
    assert response.status_code == 201
    with assert_max_queries(len(one.statements)):  # type: ignore[operator]
        response = await client.post("/admin/inventory/reservations", headers=writer, json={
            "reference": "cart:q3", "lines": [{"variant_id": str(v), "quantity": 1} for v in (a, b, c)]})
    assert response.status_code == 201
