"""/admin/purchase-orders over HTTP: the life cycle, receipts into the ledger, refusals that change
nothing, and concurrent receipts that never receive more than was ordered."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import etag_for
from mercato.kit.settings import Settings
from mercato.modules.inventory import stock
from mercato.modules.inventory.models import Supplier
from tests.fixtures.auth import staff_token_for
from tests.fixtures.live import Live
from tests.fixtures.test_session import TEST_STAFF_ID, install_test_session
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse, set_policy

URL = "/admin/purchase-orders"


def auth(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return auth(settings, "inventory:read", "inventory:write")


async def make_supplier(session: AsyncSession, *, is_active: bool = True) -> Supplier:
    supplier = Supplier(code=f"sup-{uuid.uuid4().hex[:8]}", name="Acme Kettles", address={}, lead_time_days=5,
                        is_active=is_active, version=1)
    session.add(supplier)
    await session.flush()
    return supplier


@pytest.fixture
async def setup(session: AsyncSession) -> dict[str, Any]:
    warehouse = await make_warehouse(session)
    variants = await make_tracked_variants(session, 3)
    supplier = await make_supplier(session)
    await session.commit()
    return {"warehouse": warehouse.id, "variants": variants, "supplier": supplier.id}


def order_body(setup: dict[str, Any], lines: list[tuple[int, int, int]], **extra: Any) -> dict[str, Any]:
    """lines: (variant index, quantity_ordered, unit_cost)."""
    return {"supplier_id": str(setup["supplier"]), "warehouse_id": str(setup["warehouse"]), "currency": "eur",
            "lines": [{"variant_id": str(setup["variants"][i]), "quantity_ordered": q, "unit_cost": c}
                      for i, q, c in lines], **extra}


async def created(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(URL, headers=headers, json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def sent(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    order = await created(client, headers, body)
    response = await client.post(f"{URL}/{order['id']}/send", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def movements(session: AsyncSession, order_id: str) -> list[tuple[uuid.UUID, str, int, str | None]]:
    rows = await session.execute(text(
        "SELECT variant_id, kind, on_hand_delta, actor FROM stock_movements"
        " WHERE reference_type = 'purchase_order' AND reference_id = :r ORDER BY id"), {"r": order_id})
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def on_hand(session: AsyncSession, variant_id: uuid.UUID, warehouse_id: uuid.UUID) -> int:
    rows = [r for r in await stock.stock_rows(session, variant_id=variant_id) if r.warehouse_id == warehouse_id]
    return rows[0].on_hand if rows else 0


async def events(session: AsyncSession, name: str) -> list[dict[str, Any]]:
    rows = await session.execute(text("SELECT payload FROM outbox_events WHERE name = :n ORDER BY created_at"),
                                 {"n": name})
    return [r[0] for r in rows]


async def test_full_life_cycle_with_partial_receipts(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    a, b, c = setup["variants"]
    order = await created(client, writer, order_body(setup, [(0, 10, 250), (1, 5, 1999)], notes="first"))
    assert re.fullmatch(r"PO-\d{6}", order["number"])
    assert order["status"] == "draft"
    assert order["currency"] == "EUR"
    assert order["total"] == {"amount": 10 * 250 + 5 * 1999, "currency": "EUR"}
    assert order["received_total"] == {"amount": 0, "currency": "EUR"}
    assert [(line["quantity_ordered"], line["total"]["amount"]) for line in order["lines"]] == [(10, 2500),
                                                                                                 (5, 9995)]
    second = await created(client, writer, order_body(setup, [(0, 1, 1)]))
    assert int(second["number"][3:]) == int(order["number"][3:]) + 1

    # Draft: lines replaced; the line of a variant kept keeps its id.
    line_a = order["lines"][0]["id"]
    edited = await client.patch(f"{URL}/{order['id']}", headers={**writer, "if-match": etag_for(order["id"], 1)},
                                json={"lines": [{"variant_id": str(a), "quantity_ordered": 12, "unit_cost": 250},
                                                {"variant_id": str(c), "quantity_ordered": 3, "unit_cost": 100}]})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert {line["variant_id"]: line["quantity_ordered"] for line in body["lines"]} == {str(a): 12, str(c): 3}
    assert next(line["id"] for line in body["lines"] if line["variant_id"] == str(a)) == line_a
    assert body["total"]["amount"] == 12 * 250 + 3 * 100
    assert body["version"] == 2

    sent_ = await client.post(f"{URL}/{order['id']}/send", headers={**writer, "if-match": edited.headers["etag"]})
    assert sent_.status_code == 200
    assert sent_.json()["status"] == "sent"
    assert sent_.json()["sent_at"] is not None

    # Sent: lines are fixed, notes may still change.
    refused = await client.patch(f"{URL}/{order['id']}", headers=writer,
                                 json={"lines": [{"variant_id": str(a), "quantity_ordered": 1, "unit_cost": 1}]})
    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.invalid_transition"
    noted = await client.patch(f"{URL}/{order['id']}", headers=writer, json={"notes": "dock 4",
                                                                             "expected_at": "2030-01-31"})
    assert noted.status_code == 200
    assert (noted.json()["notes"], noted.json()["expected_at"]) == ("dock 4", "2030-01-31")

    # First delivery: A on two entries (by line id, then by variant id), all of C.
    first = await client.post(f"{URL}/{order['id']}/receipts", headers=writer, json={"lines": [
        {"line_id": line_a, "quantity": 3}, {"variant_id": str(a), "quantity": 2},
        {"variant_id": str(c), "quantity": 3},
    ]})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "partially_received"
    lines = {line["variant_id"]: line for line in body["lines"]}
    assert (lines[str(a)]["quantity_received"], lines[str(a)]["quantity_outstanding"]) == (5, 7)
    assert lines[str(c)]["quantity_outstanding"] == 0
    assert body["received_total"]["amount"] == 5 * 250 + 3 * 100
    assert await on_hand(session, a, setup["warehouse"]) == 5
    assert await on_hand(session, c, setup["warehouse"]) == 3
    assert await on_hand(session, b, setup["warehouse"]) == 0
    assert sorted((m[1], m[2]) for m in await movements(session, order["id"])) == [
        ("receipt", 2), ("receipt", 3), ("receipt", 3)]
    assert {m[3] for m in await movements(session, order["id"])} == {f"staff:{TEST_STAFF_ID}"}
    assert await events(session, "purchase_order.received") == []

    second_delivery = await client.post(f"{URL}/{order['id']}/receipts", headers=writer,
                                        json={"lines": [{"variant_id": str(a), "quantity": 7}]})
    assert second_delivery.status_code == 201, second_delivery.text
    assert second_delivery.json()["status"] == "received"
    assert await on_hand(session, a, setup["warehouse"]) == 12
    [event] = await events(session, "purchase_order.received")
    assert event["purchase_order_id"] == order["id"]
    assert event["number"] == order["number"]
    assert {line["variant_id"]: line["quantity_received"] for line in event["lines"]} == {str(a): 12, str(c): 3}

    closed = await client.post(f"{URL}/{order['id']}/close", headers=writer)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None
    fetched = await client.get(f"{URL}/{order['id']}", headers=writer)
    assert fetched.json()["status"] == "closed"
    assert fetched.headers["etag"] == closed.headers["etag"]
    # The ledger still balances.
    assert await stock.verify(session) == []


async def test_close_keeps_what_arrived(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    order = await sent(client, writer, order_body(setup, [(0, 10, 100)]))
    await client.post(f"{URL}/{order['id']}/receipts", headers=writer,
                      json={"lines": [{"variant_id": str(setup["variants"][0]), "quantity": 4}]})
    closed = await client.post(f"{URL}/{order['id']}/close", headers=writer)
    assert closed.status_code == 200
    assert closed.json()["lines"][0]["quantity_received"] == 4
    late = await client.post(f"{URL}/{order['id']}/receipts", headers=writer,
                             json={"lines": [{"variant_id": str(setup["variants"][0]), "quantity": 1}]})
    assert late.status_code == 409
    assert late.json()["code"] == "inventory.invalid_transition"
    assert await on_hand(session, setup["variants"][0], setup["warehouse"]) == 4
    assert await events(session, "purchase_order.received") == []


async def test_state_machine_refusals(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    variant = str(setup["variants"][0])
    draft = await created(client, writer, order_body(setup, [(0, 5, 100)]))

    async def act(order: dict[str, Any], action: str) -> httpx.Response:
        return await client.post(f"{URL}/{order['id']}/{action}", headers=writer)

    async def receive(order: dict[str, Any], quantity: int) -> httpx.Response:
        return await client.post(f"{URL}/{order['id']}/receipts", headers=writer,
                                 json={"lines": [{"variant_id": variant, "quantity": quantity}]})

    for response in (await act(draft, "close"), await receive(draft, 1)):
        assert response.status_code == 409
        assert response.json()["code"] == "inventory.invalid_transition"

    empty = await created(client, writer, order_body(setup, []))
    no_lines = await act(empty, "send")
    assert no_lines.status_code == 422
    assert no_lines.json()["errors"][0]["field"] == "lines"

    # A sent order nothing arrived for can be cancelled; one with arrivals cannot.
    cancellable = await sent(client, writer, order_body(setup, [(0, 5, 100)]))
    assert (await act(cancellable, "send")).status_code == 409
    cancelled = await act(cancellable, "cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    for action in ("send", "close", "cancel"):
        assert (await act(cancellable, action)).status_code == 409
    assert (await receive(cancellable, 1)).status_code == 409

    started = await sent(client, writer, order_body(setup, [(0, 5, 100)]))
    assert (await receive(started, 2)).status_code == 201
    refused = await act(started, "cancel")
    assert refused.status_code == 409
    assert refused.json()["code"] == "inventory.invalid_transition"
    assert (await client.get(f"{URL}/{started['id']}", headers=writer)).json()["status"] == "partially_received"

    # Stale ETag on an action → 412, nothing changes.
    stale = await client.post(f"{URL}/{draft['id']}/send", headers={**writer, "if-match": '"stale"'})
    assert stale.status_code == 412
    assert (await client.get(f"{URL}/{draft['id']}", headers=writer)).json()["status"] == "draft"
    assert await on_hand(session, setup["variants"][0], setup["warehouse"]) == 2


async def test_over_receipt_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    a, b, c = setup["variants"]
    order = await sent(client, writer, order_body(setup, [(0, 10, 100), (1, 4, 100)]))
    await client.post(f"{URL}/{order['id']}/receipts", headers=writer,
                      json={"lines": [{"variant_id": str(a), "quantity": 6}]})
    before = await client.get(f"{URL}/{order['id']}", headers=writer)

    response = await client.post(f"{URL}/{order['id']}/receipts", headers=writer, json={"lines": [
        {"variant_id": str(b), "quantity": 2},  # fine on its own
        {"variant_id": str(a), "quantity": 3},  # 9 of 10: fine so far...
        {"variant_id": str(a), "quantity": 2},  # ...but 11 of 10
        {"variant_id": str(c), "quantity": 1},  # not on the order
        {"line_id": str(uuid.uuid4()), "quantity": 1},
    ]})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "inventory.invalid"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("lines.2.quantity", "over_receipt"), ("lines.3.variant_id", "not_on_order"),
        ("lines.4.line_id", "not_on_order")}
    after = await client.get(f"{URL}/{order['id']}", headers=writer)
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]
    assert await on_hand(session, a, setup["warehouse"]) == 6
    assert await on_hand(session, b, setup["warehouse"]) == 0
    assert len(await movements(session, order["id"])) == 1

    too_many = await client.post(f"{URL}/{order['id']}/receipts", headers=writer,
                                 json={"lines": [{"variant_id": str(b), "quantity": 5}]})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["message"].startswith("Only 4 ")


async def test_receipts_with_an_idempotency_key_happen_once(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    order = await sent(client, writer, order_body(setup, [(0, 10, 100)]))
    url, body = f"{URL}/{order['id']}/receipts", {"lines": [{"variant_id": str(setup["variants"][0]), "quantity": 4}]}
    headers = {**writer, "idempotency-key": "dock-delivery-1"}
    first = await client.post(url, headers=headers, json=body)
    again = await client.post(url, headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert await on_hand(session, setup["variants"][0], setup["warehouse"]) == 4
    assert len(await movements(session, order["id"])) == 1


async def test_lot_tracked_receipts_need_a_lot(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    variant = setup["variants"][0]
    await set_policy(session, variant, lot_tracked=True)
    await session.commit()
    order = await sent(client, writer, order_body(setup, [(0, 10, 100)]))
    url = f"{URL}/{order['id']}/receipts"
    missing = await client.post(url, headers=writer, json={"lines": [{"variant_id": str(variant), "quantity": 4}]})
    assert missing.status_code == 422
    assert missing.json()["code"] == "inventory.lot_required"
    assert (await client.get(f"{URL}/{order['id']}", headers=writer)).json()["status"] == "sent"
    with_lot = await client.post(url, headers=writer, json={"lines": [
        {"variant_id": str(variant), "quantity": 4, "lot_number": "L-1", "expires_on": "2031-05-01"}]})
    assert with_lot.status_code == 201, with_lot.text
    lots = (await session.execute(text("SELECT lot_number, expires_on::text, on_hand FROM stock_lots"))).all()
    assert [tuple(r) for r in lots] == [("L-1", "2031-05-01", 4)]


async def test_create_validation_names_every_field(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    inactive = await make_supplier(session, is_active=False)
    await session.commit()
    variant = str(setup["variants"][0])
    response = await client.post(URL, headers=writer, json={
        "supplier_id": str(inactive.id), "warehouse_id": str(uuid.uuid4()), "currency": "XYZ",
        "lines": [{"variant_id": variant, "quantity_ordered": 1, "unit_cost": 1},
                  {"variant_id": variant, "quantity_ordered": 2, "unit_cost": 1},
                  {"variant_id": "nope", "quantity_ordered": 2, "unit_cost": 1}],
    })
    assert response.status_code == 422
    assert response.json()["code"] == "inventory.invalid"
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("supplier_id", "inactive"), ("warehouse_id", "unknown"), ("currency", "unknown"),
        ("lines.1.variant_id", "duplicate"), ("lines.2.variant_id", "unknown")}
    unknown = await client.post(URL, headers=writer, json={**order_body(setup, []), "supplier_id": "x"})
    assert unknown.json()["errors"][0] == {"field": "supplier_id", "code": "unknown",
                                           "message": "No supplier has this id."}
    for bad_line in ({"quantity_ordered": 0, "unit_cost": 1}, {"quantity_ordered": 1, "unit_cost": -1}):
        bad = await client.post(URL, headers=writer,
                                json={**order_body(setup, []), "lines": [{"variant_id": variant, **bad_line}]})
        assert bad.status_code == 422
    both = await client.post(f"{URL}/{uuid.uuid4()}/receipts", headers=writer,
                             json={"lines": [{"variant_id": variant, "line_id": variant, "quantity": 1}]})
    assert both.status_code == 422
    assert (await session.execute(text("SELECT count(*) FROM purchase_orders"))).scalar_one() == 0


async def test_list_filters_and_unknown_ids(
    client: httpx.AsyncClient, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    drafts = [await created(client, writer, order_body(setup, [(0, 1, 100)])) for _ in range(3)]
    sent_one = await sent(client, writer, order_body(setup, [(0, 2, 300)]))
    page = (await client.get(URL, headers=writer, params={"status": "draft", "limit": 2})).json()
    assert [o["id"] for o in page["items"]] == [drafts[2]["id"], drafts[1]["id"]]
    rest = (await client.get(URL, headers=writer, params={"status": "draft", "cursor": page["next_cursor"]})).json()
    assert [o["id"] for o in rest["items"]] == [drafts[0]["id"]]
    assert rest["next_cursor"] is None
    only_sent = (await client.get(URL, headers=writer, params={"status": "sent"})).json()["items"]
    assert [(o["id"], o["total"]) for o in only_sent] == [(sent_one["id"], {"amount": 600, "currency": "EUR"})]
    assert (await client.get(URL, headers=writer, params={"status": "bogus"})).status_code == 422
    by_supplier = (await client.get(URL, headers=writer, params={"supplier_id": str(setup["supplier"])})).json()
    assert len(by_supplier["items"]) == 4
    assert (await client.get(URL, headers=writer, params={"supplier_id": "x"})).json()["items"] == []

    for bad in (str(uuid.uuid4()), "not-an-id"):
        for method, path in (("GET", ""), ("PATCH", ""), ("POST", "/send"), ("POST", "/close"), ("POST", "/cancel")):
            response = await client.request(method, f"{URL}/{bad}{path}", headers=writer,
                                            json={} if method == "PATCH" else None)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["code"] == "inventory.not_found"
        receipt = await client.post(f"{URL}/{bad}/receipts", headers=writer,
                                    json={"lines": [{"line_id": bad, "quantity": 1}]})
        assert receipt.status_code == 404


async def test_permissions(
    client: httpx.AsyncClient, settings: Settings, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    order = await sent(client, writer, order_body(setup, [(0, 5, 100)]))
    reader = auth(settings, "inventory:read")
    assert (await client.get(f"{URL}/{order['id']}", headers=reader)).status_code == 200
    for path, body in (("", order_body(setup, [])), (f"/{order['id']}/close", None),
                       (f"/{order['id']}/receipts", {"lines": [{"variant_id": str(setup["variants"][0]),
                                                                "quantity": 1}]})):
        response = await client.post(f"{URL}{path}", headers=reader, json=body)
        assert response.status_code == 403, path
        assert response.json()["code"] == "auth.forbidden"
    nobody = auth(settings, "catalog:read")
    assert (await client.get(URL, headers=nobody)).status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(f"{URL}/{order['id']}", headers=writer)).json()["status"] == "sent"


async def test_concurrent_receipts_never_over_receive(live: Live, settings: Settings) -> None:
    install_test_session(live.db.engine.url.render_as_string(hide_password=False))
    async with live.db.sessionmaker() as s:
        warehouse = await make_warehouse(s)
        [variant] = await make_tracked_variants(s, 1)
        supplier = await make_supplier(s)
        await s.commit()
    headers = auth(settings, "inventory:read", "inventory:write")
    client = live.client
    order = await sent(client, headers, {
        "supplier_id": str(supplier.id), "warehouse_id": str(warehouse.id), "currency": "EUR",
        "lines": [{"variant_id": str(variant), "quantity_ordered": 12, "unit_cost": 100}]})
    async def race(quantity: int, n: int) -> Counter[int]:
        responses = await asyncio.gather(*(
            client.post(f"{URL}/{order['id']}/receipts", headers=headers,
                        json={"lines": [{"variant_id": str(variant), "quantity": quantity}]})
            for _ in range(n)
        ))
        for r in responses:
            if r.status_code == 422:
                assert [e["code"] for e in r.json()["errors"]] == ["over_receipt"]
            elif r.status_code == 409:
                assert r.json()["code"] == "inventory.invalid_transition"
        return Counter(r.status_code for r in responses)

    # 10 × 5 against 12 ordered: two fit, the others find only 2 outstanding.
    assert await race(5, 10) == {201: 2, 422: 8}
    # 6 × 1 against the last 2: two fit, then the order is received and takes no more.
    assert await race(1, 6) == {201: 2, 409: 4}
    final = (await client.get(f"{URL}/{order['id']}", headers=headers)).json()
    assert (final["status"], final["lines"][0]["quantity_received"]) == ("received", 12)
    async with live.db.sessionmaker() as s:
        assert await on_hand(s, variant, warehouse.id) == 12
        assert sum(m[2] for m in await movements(s, order["id"])) == 12
        assert len(await events(s, "purchase_order.received")) == 1
        assert await stock.verify(s) == []
