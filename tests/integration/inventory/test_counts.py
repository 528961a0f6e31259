"""/admin/inventory/counts over HTTP: entering counted figures, the variance report, applying it as
count corrections in the ledger, and refusals."""

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
from tests.fixtures.auth import staff_token_for
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse

URL = "/admin/inventory/counts"


def auth(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return auth(settings, "inventory:read", "inventory:write")


@pytest.fixture
async def setup(session: AsyncSession) -> dict[str, Any]:
    """A warehouse holding 10 of A and 5 of B; C was never stocked there (no stock row)."""
    warehouse = await make_warehouse(session)
    a, b, c = await make_tracked_variants(session, 3)
    for variant, quantity in ((a, 10), (b, 5)):
        await stock.change_on_hand(session, variant_id=variant, warehouse_id=warehouse.id, delta=quantity,
                                   kind="receipt", actor="test")
    await session.commit()
    return {"warehouse": warehouse.id, "a": a, "b": b, "c": c}


def lines(setup: dict[str, Any], *counted: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"variant_id": str(setup[v]), "counted": n} for v, n in counted]


async def on_hand(session: AsyncSession, variant_id: uuid.UUID, warehouse_id: uuid.UUID) -> int:
    rows = [r for r in await stock.stock_rows(session, variant_id=variant_id) if r.warehouse_id == warehouse_id]
    return rows[0].on_hand if rows else 0


async def corrections(session: AsyncSession, count_id: str) -> dict[uuid.UUID, int]:
    rows = await session.execute(text(
        "SELECT variant_id, on_hand_delta, reason FROM stock_movements"
        " WHERE kind = 'count_correction' AND reference_type = 'count' AND reference_id = :r"), {"r": count_id})
    found: dict[uuid.UUID, int] = {}
    for variant_id, delta, reason in rows:
        assert reason.startswith("cycle count CC-")
        found[variant_id] = found.get(variant_id, 0) + delta
    return found


async def test_variance_report_and_apply(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    a, b, c, warehouse = setup["a"], setup["b"], setup["c"], setup["warehouse"]
    created = await client.post(URL, headers=writer, json={"warehouse_id": str(warehouse),
                                                           "lines": lines(setup, ("a", 8), ("b", 5))})
    assert created.status_code == 201, created.text
    count = created.json()
    assert re.fullmatch(r"CC-\d{6}", count["number"])
    assert count["status"] == "open"
    assert [(line["counted"], line["expected"]) for line in count["lines"]] == [(8, None), (5, None)]

    # A recount of A replaces its figure; C is added.
    entered = await client.put(f"{URL}/{count['id']}/lines", headers={**writer, "if-match": created.headers["etag"]},
                               json={"lines": lines(setup, ("c", 3), ("a", 7))})
    assert entered.status_code == 200, entered.text
    assert {line["variant_id"]: line["counted"] for line in entered.json()["lines"]} == {
        str(a): 7, str(b): 5, str(c): 3}
    assert len(entered.json()["lines"]) == 3

    report = (await client.get(f"{URL}/{count['id']}/variance", headers=writer)).json()
    assert report["basis"] == "current"
    assert {line["variant_id"]: (line["expected"], line["counted"], line["variance"]) for line in report["lines"]} \
        == {str(a): (10, 7, -3), str(b): (5, 5, 0), str(c): (0, 3, 3)}
    assert all(line["sku"] for line in report["lines"])
    assert report["totals"] == {"lines": 3, "lines_with_variance": 2, "expected": 15, "counted": 15, "variance": 0,
                                "surplus": 3, "shortage": 3}
    assert await corrections(session, count["id"]) == {}  # reporting changes nothing

    applied = await client.post(f"{URL}/{count['id']}/apply", headers=writer)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    assert applied.json()["basis"] == "applied"
    assert applied.json()["lines"] == report["lines"]
    assert await corrections(session, count["id"]) == {a: -3, c: 3}  # none for B: no variance
    assert (await on_hand(session, a, warehouse), await on_hand(session, b, warehouse),
            await on_hand(session, c, warehouse)) == (7, 5, 3)
    stored = (await client.get(f"{URL}/{count['id']}", headers=writer)).json()
    assert stored["applied_at"] is not None
    assert {line["variant_id"]: line["expected"] for line in stored["lines"]} == {str(a): 10, str(b): 5, str(c): 0}
    assert await stock.verify(session) == []

    # Later stock changes do not rewrite an applied count's report.
    await stock.change_on_hand(session, variant_id=a, warehouse_id=warehouse, delta=4, kind="receipt", actor="test")
    await session.commit()
    later = (await client.get(f"{URL}/{count['id']}/variance", headers=writer)).json()
    assert later["lines"] == report["lines"]

    for method, path, payload in (("PUT", "/lines", {"lines": lines(setup, ("a", 1))}), ("POST", "/apply", None),
                                  ("POST", "/cancel", None)):
        response = await client.request(method, f"{URL}/{count['id']}{path}", headers=writer, json=payload)
        assert response.status_code == 409, path
        assert response.json()["code"] == "inventory.invalid_transition"
    assert await on_hand(session, a, warehouse) == 11
    assert await corrections(session, count["id"]) == {a: -3, c: 3}


async def test_cancel_list_and_validation(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], writer: dict[str, str]
) -> None:
    warehouse = str(setup["warehouse"])
    invalid = await client.post(URL, headers=writer, json={
        "warehouse_id": str(uuid.uuid4()), "lines": [*lines(setup, ("a", 1), ("a", 2)),
                                                     {"variant_id": "nope", "counted": 1}]})
    assert invalid.status_code == 422
    assert {(e["field"], e["code"]) for e in invalid.json()["errors"]} == {
        ("warehouse_id", "unknown"), ("lines.1.variant_id", "duplicate"), ("lines.2.variant_id", "unknown")}
    negative = await client.post(URL, headers=writer, json={"warehouse_id": warehouse,
                                                            "lines": lines(setup, ("a", -1))})
    assert negative.status_code == 422
    assert (await session.execute(text("SELECT count(*) FROM stock_counts"))).scalar_one() == 0

    empty = (await client.post(URL, headers=writer, json={"warehouse_id": warehouse})).json()
    assert empty["lines"] == []
    repeated = await client.put(f"{URL}/{empty['id']}/lines", headers=writer,
                                json={"lines": lines(setup, ("b", 1), ("b", 2))})
    assert repeated.status_code == 422
    assert (await client.get(f"{URL}/{empty['id']}", headers=writer)).json()["lines"] == []
    stale = await client.put(f"{URL}/{empty['id']}/lines", headers={**writer, "if-match": '"old"'},
                             json={"lines": lines(setup, ("b", 1))})
    assert stale.status_code == 412

    other = (await client.post(URL, headers=writer, json={"warehouse_id": warehouse,
                                                          "lines": lines(setup, ("a", 0))})).json()
    cancelled = await client.post(f"{URL}/{other['id']}/cancel", headers=writer)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    refused = await client.post(f"{URL}/{other['id']}/apply", headers=writer)
    assert refused.status_code == 409
    assert await on_hand(session, setup["a"], setup["warehouse"]) == 10

    open_ones = (await client.get(URL, headers=writer, params={"status": "open"})).json()
    assert [c["id"] for c in open_ones["items"]] == [empty["id"]]
    everything = (await client.get(URL, headers=writer, params={"limit": 1})).json()
    assert [c["id"] for c in everything["items"]] == [other["id"]]
    rest = (await client.get(URL, headers=writer, params={"limit": 1, "cursor": everything["next_cursor"]})).json()
    assert [c["id"] for c in rest["items"]] == [empty["id"]]
    assert (await client.get(URL, headers=writer, params={"status": "done"})).status_code == 422

    for bad in (str(uuid.uuid4()), "x"):
        for method, path in (("GET", ""), ("GET", "/variance"), ("POST", "/apply"), ("POST", "/cancel")):
            response = await client.request(method, f"{URL}/{bad}{path}", headers=writer)
            assert response.status_code == 404, (method, path)
            assert response.json()["code"] == "inventory.not_found"


async def test_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, setup: dict[str, Any],
    writer: dict[str, str],
) -> None:
    count = (await client.post(URL, headers=writer, json={"warehouse_id": str(setup["warehouse"]),
                                                          "lines": lines(setup, ("a", 1))})).json()
    reader = auth(settings, "inventory:read")
    assert (await client.get(f"{URL}/{count['id']}/variance", headers=reader)).status_code == 200
    for method, path, payload in (("POST", "", {"warehouse_id": str(setup["warehouse"])}),
                                  ("PUT", f"/{count['id']}/lines", {"lines": lines(setup, ("a", 2))}),
                                  ("POST", f"/{count['id']}/apply", None), ("POST", f"/{count['id']}/cancel", None)):
        response = await client.request(method, f"{URL}{path}", headers=reader, json=payload)
        assert response.status_code == 403, path
        assert response.json()["code"] == "auth.forbidden"
    assert (await client.get(f"{URL}/{count['id']}", headers=auth(settings, "orders:read"))).status_code == 403
    assert await on_hand(session, setup["a"], setup["warehouse"]) == 10
    assert (await client.get(f"{URL}/{count['id']}", headers=reader)).json()["status"] == "open"
