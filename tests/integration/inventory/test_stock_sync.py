"""POST /admin/inventory/sync over HTTP: absolute and delta syncs, per-item errors that leave the good
items applied, and Idempotency-Key replays that apply nothing twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.inventory import stock
from mercato.modules.inventory.models import StockMovement
from tests.integration.inventory.test_warehouses import bearer, count, make_variants, make_warehouse

SYNC = "/admin/inventory/sync"


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return bearer(settings, "inventory:read", "inventory:write")


async def on_hand(client: httpx.AsyncClient, headers: dict[str, str], variant_id: Any) -> dict[str, int]:
    rows = (await client.get("/admin/inventory", headers=headers, params={"variant_id": str(variant_id)})).json()
    return {r["warehouse_code"]: r["on_hand"] for r in rows["items"]}


async def sync(client: httpx.AsyncClient, headers: dict[str, str], key: str | None, mode: str,
               items: list[dict[str, Any]]) -> httpx.Response:
    extra = {"idempotency-key": key} if key is not None else {}
    return await client.post(SYNC, headers={**headers, **extra}, json={"mode": mode, "items": items})


async def test_absolute_then_delta(client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]) -> None:
    a, b = await make_variants(session, 2)
    await make_warehouse(client, session, writer, "north")
    await make_warehouse(client, session, writer, "south")

    absolute = await sync(client, writer, "erp-1", "absolute", [
        {"sku": a.sku, "warehouse_code": "north", "quantity": 10},
        {"sku": b.sku, "warehouse_code": "north", "quantity": 5},
        {"sku": a.sku, "warehouse_code": "south", "quantity": 0},  # nothing there, nothing to do
    ])
    assert absolute.status_code == 200, absolute.text
    assert absolute.json() == {"applied": 2, "unchanged": 1, "failed": 0, "errors": []}
    assert await on_hand(client, writer, a.id) == {"north": 10}
    assert await on_hand(client, writer, b.id) == {"north": 5}

    delta = await sync(client, writer, "erp-2", "delta", [
        {"sku": a.sku, "warehouse_code": "north", "quantity": -3},
        {"sku": b.sku, "warehouse_code": "south", "quantity": 4},
        {"sku": b.sku, "warehouse_code": "north", "quantity": 0},
        {"sku": a.sku, "warehouse_code": "north", "quantity": -2},  # the same row twice: both count
    ])
    assert delta.json() == {"applied": 3, "unchanged": 1, "failed": 0, "errors": []}
    assert await on_hand(client, writer, a.id) == {"north": 5}
    assert await on_hand(client, writer, b.id) == {"north": 5, "south": 4}

    same = await sync(client, writer, "erp-3", "absolute", [{"sku": a.sku, "warehouse_code": "north", "quantity": 5}])
    assert same.json() == {"applied": 0, "unchanged": 1, "failed": 0, "errors": []}

    movements = (await session.execute(
        select(StockMovement).where(StockMovement.reference_id == "erp-2").order_by(StockMovement.id)
    )).scalars().all()
    assert [(m.kind, m.on_hand_delta, m.reason, m.reference_type) for m in movements] == [
        ("adjustment", -3, "sync", "sync"), ("adjustment", -2, "sync", "sync"), ("adjustment", 4, "sync", "sync"),
    ] if a.id < b.id else [
        ("adjustment", 4, "sync", "sync"), ("adjustment", -3, "sync", "sync"), ("adjustment", -2, "sync", "sync"),
    ]
    assert await count(session, StockMovement) == 5
    assert await stock.verify(session) == []


async def test_bad_items_are_reported_and_the_good_ones_applied(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    a, b = await make_variants(session, 2)
    await make_warehouse(client, session, writer, "main")
    await sync(client, writer, "seed", "absolute", [{"sku": b.sku, "warehouse_code": "main", "quantity": 1}])

    absolute = await sync(client, writer, "abs", "absolute", [
        {"sku": "NO-SUCH-SKU", "warehouse_code": "main", "quantity": 1},
        {"sku": a.sku, "warehouse_code": "main", "quantity": 7},
        {"sku": a.sku, "warehouse_code": "nowhere", "quantity": 1},
        {"sku": b.sku, "warehouse_code": "main", "quantity": -1},
        {"sku": "NOPE", "warehouse_code": "nowhere", "quantity": 1},
    ])
    assert absolute.status_code == 200
    report = absolute.json()
    assert (report["applied"], report["unchanged"], report["failed"]) == (1, 0, 4)
    assert [(e["index"], e["field"], e["code"]) for e in report["errors"]] == [
        (0, "items[0].sku", "unknown"), (2, "items[2].warehouse_code", "unknown"),
        (3, "items[3].quantity", "negative"), (4, "items[4].sku", "unknown"), (4, "items[4].warehouse_code", "unknown"),
    ]
    assert all(e["message"] for e in report["errors"])
    assert await on_hand(client, writer, a.id) == {"main": 7}
    assert await on_hand(client, writer, b.id) == {"main": 1}

    delta = await sync(client, writer, "delta", "delta", [
        {"sku": a.sku, "warehouse_code": "main", "quantity": -8},
        {"sku": b.sku, "warehouse_code": "main", "quantity": 2},
    ])
    assert delta.json()["applied"] == 1
    assert [(e["index"], e["field"], e["code"]) for e in delta.json()["errors"]] == \
        [(0, "items[0].quantity", "negative_on_hand")]
    assert await on_hand(client, writer, a.id) == {"main": 7}
    assert await on_hand(client, writer, b.id) == {"main": 3}

    # Refused by the core half-way through its work: only that item's savepoint is rolled back.
    lots = await client.put(f"/admin/inventory/items/{a.id}", headers=writer, json={"lot_tracked": True})
    assert lots.status_code == 200
    ledger = await count(session, StockMovement)
    mixed = await sync(client, writer, "lots", "delta", [
        {"sku": a.sku, "warehouse_code": "main", "quantity": 1},
        {"sku": b.sku, "warehouse_code": "main", "quantity": 1},
    ])
    assert (mixed.json()["applied"], mixed.json()["failed"]) == (1, 1)
    assert [(e["index"], e["code"]) for e in mixed.json()["errors"]] == [(0, "lot_required")]
    assert await on_hand(client, writer, a.id) == {"main": 7}
    assert await on_hand(client, writer, b.id) == {"main": 4}
    assert await count(session, StockMovement) == ledger + 1
    assert await stock.verify(session) == []


async def test_a_replay_returns_the_same_report_and_applies_nothing_twice(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    a, = await make_variants(session)
    await make_warehouse(client, session, writer, "main")
    items = [{"sku": a.sku, "warehouse_code": "main", "quantity": 4}, {"sku": "X", "warehouse_code": "main",
                                                                        "quantity": 1}]
    first = await sync(client, writer, "batch-42", "delta", items)
    assert first.status_code == 200
    assert first.json()["applied"] == 1
    ledger = await count(session, StockMovement)

    again = await sync(client, writer, "batch-42", "delta", items)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(session, StockMovement) == ledger
    assert await on_hand(client, writer, a.id) == {"main": 4}

    other = await sync(client, writer, "batch-42", "delta", items[:1])
    assert (other.status_code, other.json()["code"]) == (422, "idempotency.mismatch")
    assert await count(session, StockMovement) == ledger
    assert await on_hand(client, writer, a.id) == {"main": 4}


async def test_refused_syncs_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, writer: dict[str, str]
) -> None:
    a, = await make_variants(session)
    await make_warehouse(client, session, writer, "main")
    item = {"sku": a.sku, "warehouse_code": "main", "quantity": 3}

    no_key = await sync(client, writer, None, "delta", [item])
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency.key_required")
    forbidden = await sync(client, bearer(settings, "inventory:read"), "k1", "delta", [item])
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "auth.forbidden")
    for n, (mode, items) in enumerate((("replace", [item]), ("delta", []), ("delta", [item] * 5001),
                        ("delta", [{**item, "quantity": 1.5}]), ("delta", [{**item, "extra": 1}]),
                        ("delta", [{**item, "quantity": 2**31}]))):
        response = await sync(client, writer, f"k-{n}", mode, items)
        assert (response.status_code, response.json()["code"]) == (422, "validation.invalid"), (mode, items[:1])
    assert await count(session, StockMovement) == 0
    assert await on_hand(client, writer, a.id) == {}
