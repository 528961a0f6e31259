"""/admin/inventory/transfers over HTTP: shipping out of one warehouse, the in-transit quantity,
receiving into the other, and refusals that move nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.inventory import stock
from mercato.modules.inventory.transfers import in_transit_by_variant
from tests.fixtures.auth import staff_token_for
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse

URL = "/admin/inventory/transfers"


def auth(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return auth(settings, "inventory:read", "inventory:write")


@pytest.fixture
async def setup(session: AsyncSession) -> dict[str, Any]:
    """Two warehouses; variant A has 10 and B has 5 in the first."""
    source, destination = await make_warehouse(session), await make_warehouse(session)
    a, b = await make_tracked_variants(session, 2)
    for variant, quantity in ((a, 10), (b, 5)):
        await stock.change_on_hand(session, variant_id=variant, warehouse_id=source.id, delta=quantity,
                                   kind="receipt", actor="test")
    await session.commit()
    return {"from": source.id, "to": destination.id, "a": a, "b": b}


def body(setup: dict[str, Any], lines: list[tuple[str, int]]) -> dict[str, Any]:
    return {"from_warehouse_id": str(setup["from"]), "to_warehouse_id": str(setup["to"]),
            "lines": [{"variant_id": str(setup[v]), "quantity": q} for v, q in lines]}


async def created(client: httpx.AsyncClient, headers: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(URL, headers=headers, json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def on_hand(session: AsyncSession, variant_id: uuid.UUID) -> dict[uuid.UUID, int]:
    return {row.warehouse_id: row.on_hand for row in await stock.stock_rows(session, variant_id=variant_id)}


async def movements(session: AsyncSession, transfer_id: str) -> list[tuple[uuid.UUID, uuid.UUID, str, int]]:
    rows = await session.execute(text(
        "SELECT variant_id, warehouse_id, kind, on_hand_delta FROM stock_movements"
        " WHERE reference_type = 'transfer' AND reference_id = :r ORDER BY id"), {"r": transfer_id})
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_life_cycle_with_in_transit_quantity(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    a, b, source, destination = setup["a"], setup["b"], setup["from"], setup["to"]
    transfer = await created(client, writer, body(setup, [("a", 6), ("b", 5)]))
    assert re.fullmatch(r"TR-\d{6}", transfer["number"])
    assert transfer["status"] == "draft"
    assert [line["quantity_in_transit"] for line in transfer["lines"]] == [0, 0]
    assert await in_transit_by_variant(session, [a, b]) == {}

    shipped = await client.post(f"{URL}/{transfer['id']}/ship", headers=writer)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "in_transit"
    assert shipped.json()["shipped_at"] is not None
    assert await on_hand(session, a) == {source: 4}
    assert await on_hand(session, b) == {source: 0}
    assert sorted((m[1], m[2], m[3]) for m in await movements(session, transfer["id"])) == sorted(
        [(source, "transfer_out", -6), (source, "transfer_out", -5)])
    assert await in_transit_by_variant(session, [a, b]) == {(a, destination): 6, (b, destination): 5}

    partial = await client.post(f"{URL}/{transfer['id']}/receipts", headers=writer,
                                json={"lines": [{"variant_id": str(a), "quantity": 4}]})
    assert partial.status_code == 201, partial.text
    assert partial.json()["status"] == "partially_received"
    lines = {line["variant_id"]: line for line in partial.json()["lines"]}
    assert (lines[str(a)]["quantity_received"], lines[str(a)]["quantity_in_transit"]) == (4, 2)
    assert await on_hand(session, a) == {source: 4, destination: 4}
    assert await in_transit_by_variant(session, [a, b]) == {(a, destination): 2, (b, destination): 5}
    # The stock view's in-transit column agrees (counted against the destination).
    assert {r.warehouse_id: r.in_transit for r in await stock.stock_rows(session, variant_id=a)} == \
        {source: 0, destination: 2}

    over = await client.post(f"{URL}/{transfer['id']}/receipts", headers=writer,
                             json={"lines": [{"variant_id": str(a), "quantity": 3}]})
    assert over.status_code == 422
    assert [(e["field"], e["code"]) for e in over.json()["errors"]] == [("lines.0.quantity", "over_receipt")]
    assert await on_hand(session, a) == {source: 4, destination: 4}

    done = await client.post(f"{URL}/{transfer['id']}/receipts", headers=writer, json={"lines": [
        {"variant_id": str(a), "quantity": 2}, {"variant_id": str(b), "quantity": 5}]})
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "received"
    assert done.json()["received_at"] is not None
    assert await on_hand(session, a) == {source: 4, destination: 6}
    assert await on_hand(session, b) == {source: 0, destination: 5}
    assert await in_transit_by_variant(session, [a, b]) == {}
    assert sum(m[3] for m in await movements(session, transfer["id"])) == 0  # nothing lost or made
    events = (await session.execute(text(
        "SELECT payload FROM outbox_events WHERE name = 'transfer.received'"))).scalars().all()
    assert [(e["transfer_id"], e["to_warehouse_id"]) for e in events] == [(transfer["id"], str(destination))]
    assert await stock.verify(session) == []

    again = await client.post(f"{URL}/{transfer['id']}/receipts", headers=writer,
                              json={"lines": [{"variant_id": str(a), "quantity": 1}]})
    assert again.status_code == 409
    assert again.json()["code"] == "inventory.invalid_transition"


async def test_not_enough_stock_ships_nothing(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    transfer = await created(client, writer, body(setup, [("a", 5), ("b", 6)]))  # B has only 5
    refused = await client.post(f"{URL}/{transfer['id']}/ship", headers=writer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.negative_on_hand"
    assert await on_hand(session, setup["a"]) == {setup["from"]: 10}
    assert await on_hand(session, setup["b"]) == {setup["from"]: 5}
    assert await movements(session, transfer["id"]) == []
    after = (await client.get(f"{URL}/{transfer['id']}", headers=writer)).json()
    assert (after["status"], after["version"]) == ("draft", transfer["version"])
    assert await in_transit_by_variant(session, [setup["a"], setup["b"]]) == {}


async def test_state_machine_and_validation(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    same = await client.post(URL, headers=writer, json={**body(setup, [("a", 1)]),
                                                        "to_warehouse_id": str(setup["from"])})
    assert same.status_code == 422
    assert [(e["field"], e["code"]) for e in same.json()["errors"]] == [("to_warehouse_id", "same_warehouse")]
    invalid = await client.post(URL, headers=writer, json={
        "from_warehouse_id": "x", "to_warehouse_id": str(uuid.uuid4()),
        "lines": [{"variant_id": str(setup["a"]), "quantity": 1}, {"variant_id": str(setup["a"]), "quantity": 2}]})
    assert {(e["field"], e["code"]) for e in invalid.json()["errors"]} == {
        ("from_warehouse_id", "unknown"), ("to_warehouse_id", "unknown"), ("lines.1.variant_id", "duplicate")}
    for bad in ({**body(setup, [])}, {**body(setup, [("a", 0)])}):
        assert (await client.post(URL, headers=writer, json=bad)).status_code == 422
    assert (await session.execute(text("SELECT count(*) FROM stock_transfers"))).scalar_one() == 0

    draft = await created(client, writer, body(setup, [("a", 2)]))
    early = await client.post(f"{URL}/{draft['id']}/receipts", headers=writer,
                              json={"lines": [{"variant_id": str(setup["a"]), "quantity": 1}]})
    assert early.status_code == 409
    assert early.json()["code"] == "inventory.invalid_transition"
    stale = await client.post(f"{URL}/{draft['id']}/ship", headers={**writer, "if-match": '"old"'})
    assert stale.status_code == 412

    shipped = await client.post(f"{URL}/{draft['id']}/ship", headers=writer)
    assert shipped.status_code == 200
    for action in ("ship", "cancel"):
        response = await client.post(f"{URL}/{draft['id']}/{action}", headers=writer)
        assert response.status_code == 409, action
        assert response.json()["code"] == "inventory.invalid_transition"
    assert await on_hand(session, setup["a"]) == {setup["from"]: 8}  # shipped once only
    not_on_it = await client.post(f"{URL}/{draft['id']}/receipts", headers=writer,
                                  json={"lines": [{"variant_id": str(setup["b"]), "quantity": 1}]})
    assert [(e["field"], e["code"]) for e in not_on_it.json()["errors"]] == [("lines.0.variant_id",
                                                                              "not_on_transfer")]

    other = await created(client, writer, body(setup, [("b", 1)]))
    cancelled = await client.post(f"{URL}/{other['id']}/cancel", headers=writer)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert (await client.post(f"{URL}/{other['id']}/ship", headers=writer)).status_code == 409
    assert await on_hand(session, setup["b"]) == {setup["from"]: 5}

    listed = (await client.get(URL, headers=writer, params={"status": "in_transit"})).json()["items"]
    assert [t["id"] for t in listed] == [draft["id"]]
    by_warehouse = (await client.get(URL, headers=writer, params={"warehouse_id": str(setup["to"])})).json()
    assert [t["id"] for t in by_warehouse["items"]] == [other["id"], draft["id"]]
    page = (await client.get(URL, headers=writer, params={"limit": 1})).json()
    assert page["next_cursor"] is not None
    for bad in (str(uuid.uuid4()), "nope"):
        for path in ("", "/ship", "/cancel"):
            response = await client.request("GET" if not path else "POST", f"{URL}/{bad}{path}", headers=writer)
            assert response.status_code == 404
            assert response.json()["code"] == "inventory.not_found"


async def test_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, setup: dict[str, Any],
    writer: dict[str, str],
) -> None:
    transfer = await created(client, writer, body(setup, [("a", 2)]))
    reader = auth(settings, "inventory:read")
    assert (await client.get(f"{URL}/{transfer['id']}", headers=reader)).status_code == 200
    for path, payload in (("", body(setup, [("a", 1)])), (f"/{transfer['id']}/ship", None),
                          (f"/{transfer['id']}/cancel", None)):
        response = await client.post(f"{URL}{path}", headers=reader, json=payload)
        assert response.status_code == 403, path
    assert (await client.get(URL, headers=auth(settings, "catalog:write"))).status_code == 403
    assert await on_hand(session, setup["a"]) == {setup["from"]: 10}
    assert (await client.get(f"{URL}/{transfer['id']}", headers=reader)).json()["status"] == "draft"
