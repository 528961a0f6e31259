"""Reservations under real concurrency: two `mercato serve` processes on one committed database,
hundreds of buyers at once over HTTP. Whatever the interleaving, no unit is promised twice, every
refusal is a clean 409 and the ledger verifies (issue #5, "Done when")."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules.inventory import stock
from tests.fixtures.auth import staff_token_for
from tests.fixtures.processes import Processes, free_port, process_env, wait_until_healthy
from tests.fixtures.test_session import install_test_session
from tests.integration.catalog.factories import channel_ids
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse, set_policy

pytestmark = pytest.mark.slow

SERVERS = 2
BUYERS = 240
UNITS = 50
RESERVE = "/admin/inventory/reservations"
INSUFFICIENT = "inventory.insufficient_stock"


@dataclass
class Shop:
    """Two server processes and a pool on their database (for setup and for reading the outcome)."""

    bases: list[str]
    db: Database
    http: httpx.AsyncClient
    headers: dict[str, str]

    def url(self, i: int, path: str) -> str:
        return self.bases[i % len(self.bases)] + path  # requests alternate between the processes

    async def reserve(self, i: int, reference: str, lines: Sequence[tuple[uuid.UUID, int]],
                      **extra: Any) -> httpx.Response:
        body = {"reference": reference, "lines": [{"variant_id": str(v), "quantity": q} for v, q in lines], **extra}
        return await self.http.post(self.url(i, RESERVE), json=body, headers=self.headers)

    async def verify(self) -> dict[str, Any]:
        response = await self.http.get(self.url(0, "/admin/inventory/verify"), headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())


@pytest.fixture
async def shop(processes: Processes, fresh_database: Callable[[], str], settings: Settings) -> AsyncIterator[Shop]:
    url = fresh_database()
    install_test_session(url)  # the staff session behind the tokens
    # Both processes start at once; each has its own pool of 20 connections, as in production.
    started = []
    for _ in range(SERVERS):
        port = free_port()
        started.append((f"http://127.0.0.1:{port}",
                        processes.spawn(["serve", "--port", str(port), "--workers", "1"], process_env(url), "serve")))
    for base, proc in started:
        wait_until_healthy(base, proc, timeout_s=60)
    db = Database.connect(url, settings, pool_size=4, max_overflow=0)
    token = staff_token_for(settings, ["inventory:read", "inventory:write"])
    # A fresh connection per request: buyers that retry leave connections idle long enough for the
    # server to close them (uvicorn's 5 s keep-alive), and a request sent on one would fail unsent.
    limits = httpx.Limits(max_connections=BUYERS + 16, max_keepalive_connections=0)
    try:
        async with httpx.AsyncClient(timeout=45, limits=limits) as http:
            yield Shop([base for base, _ in started], db, http, {"authorization": f"Bearer {token}"})
    finally:
        await db.dispose()


async def stocked_variants(shop: Shop, *, warehouses: int, units: Sequence[Sequence[int]],
                           buckets: Sequence[int]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Variants (one per `units` row) with `units[v][w]` on hand in warehouse w (priority w), committed."""
    async with shop.db.sessionmaker() as s:
        whs = [(await make_warehouse(s, priority=w + 1)).id for w in range(warehouses)]
        variants = await make_tracked_variants(s, len(units))
        for variant, per_warehouse, k in zip(variants, units, buckets, strict=True):
            await set_policy(s, variant, buckets=k)
            for wh, q in zip(whs, per_warehouse, strict=True):
                if q:
                    await stock.change_on_hand(s, variant_id=variant, warehouse_id=wh, kind="receipt", delta=q,
                                               actor="test")
        await s.commit()
    return variants, whs


def problem_codes(responses: Sequence[httpx.Response]) -> Counter[str]:
    return Counter(r.json().get("code", "?") for r in responses if r.status_code != 201)


async def assert_buckets_sound(shop: Shop, variant: uuid.UUID) -> None:
    bad = await shop.rows("""SELECT b.n, b.quota, b.reserved, b.allocated FROM stock_buckets b
                             JOIN stock_levels s ON s.id = b.stock_id WHERE s.variant_id = :v
                               AND (b.reserved < 0 OR b.allocated < 0 OR b.reserved + b.allocated > b.quota)""",
                          v=variant)
    assert bad == []


async def assert_availability_in_step(shop: Shop, variant: uuid.UUID) -> None:
    """The maintained per-channel flag agrees with what the buckets still offer."""
    async with shop.db.sessionmaker() as s:
        web_eu = (await channel_ids(s))["web-eu"]
    offered = await shop.scalar("""SELECT coalesce(sum(b.quota - b.reserved - b.allocated), 0) FROM stock_buckets b
                                   JOIN stock_levels s ON s.id = b.stock_id WHERE s.variant_id = :v""", v=variant)
    sellable = await shop.scalar("SELECT sellable FROM inventory_availability "
                                 "WHERE variant_id = :v AND channel_id = :c", v=variant, c=web_eu)
    assert sellable == (offered > 0), (sellable, offered)


@pytest.mark.parametrize("buckets", [1, 16])
async def test_exactly_the_stock_is_sold_to_simultaneous_buyers(shop: Shop, buckets: int) -> None:
    [variant], _ = await stocked_variants(shop, warehouses=1, units=[[UNITS]], buckets=[buckets])

    started = time.monotonic()
    responses = await asyncio.gather(*(shop.reserve(i, f"cart:race-{i}", [(variant, 1)]) for i in range(BUYERS)))
    elapsed = time.monotonic() - started

    statuses = Counter(r.status_code for r in responses)
    per_server = Counter((i % SERVERS, r.status_code) for i, r in enumerate(responses))
    assert statuses == {201: UNITS, 409: BUYERS - UNITS}, (statuses, per_server, elapsed)
    assert problem_codes(responses) == {INSUFFICIENT: BUYERS - UNITS}
    winners = {f"cart:race-{i}" for i, r in enumerate(responses) if r.status_code == 201}
    assert all(r.json()["items"][0]["quantity"] == 1 for r in responses if r.status_code == 201)

    assert await shop.verify() == {"ok": True, "discrepancies": []}
    held = await shop.rows("SELECT reference, quantity, bucket FROM stock_reservations WHERE variant_id = :v",
                           v=variant)
    assert {r[0] for r in held} == winners
    assert sum(r[1] for r in held) == UNITS
    # Every bucket was handed its share of the 50 units, and each share was sold out.
    assert len({r[2] for r in held}) == buckets
    totals = await shop.rows("""SELECT sum(b.quota), sum(b.reserved), sum(b.allocated), count(*) FROM stock_buckets b
                                JOIN stock_levels s ON s.id = b.stock_id WHERE s.variant_id = :v""", v=variant)
    assert [tuple(t) for t in totals] == [(UNITS, UNITS, 0, buckets)]
    assert await shop.scalar("""SELECT sum(reserved_delta) FROM stock_movements
                                WHERE variant_id = :v AND kind = 'reservation'""", v=variant) == UNITS
    await assert_buckets_sound(shop, variant)
    await assert_availability_in_step(shop, variant)  # sold out: no longer sellable


@pytest.mark.parametrize("buckets", [1, 16])
async def test_expiring_holds_racing_new_buyers_hand_each_unit_on_once(shop: Shop, buckets: int) -> None:
    [variant], _ = await stocked_variants(shop, warehouses=1, units=[[UNITS]], buckets=[buckets])
    async with shop.db.sessionmaker() as s:
        for i in range(UNITS):
            await stock.reserve(s, reference=f"cart:old-{i}", lines=[stock.ReserveLine(variant, 1)],
                                channel_id=None, country=None, ttl=timedelta(minutes=1), actor="test")
        # Every old hold ran out: until the sweep gives its unit back, it still counts as held.
        await s.execute(text("UPDATE stock_reservations SET expires_at = now() - interval '1 second'"))
        await s.commit()

    swept_all = asyncio.Event()
    released: list[int] = []
    held_samples: list[int] = []

    async def sweeper() -> None:
        # Small batches with pauses, so the sweep is spread over the whole stampede.
        while True:
            async with shop.db.sessionmaker() as s:
                n = await stock.expire_reservations(s, limit=3)
                await s.commit()
            released.append(n)
            if n == 0 and await shop.scalar("SELECT count(*) FROM stock_reservations WHERE reference LIKE "
                                            "'cart:old-%'") == 0:
                swept_all.set()
                return
            await asyncio.sleep(0.02)

    async def watcher() -> None:
        while not swept_all.is_set():
            held_samples.append(int(await shop.scalar(
                "SELECT coalesce(sum(quantity), 0) FROM stock_reservations WHERE variant_id = :v", v=variant)))
            await asyncio.sleep(0.01)

    async def buyer(i: int) -> list[httpx.Response]:
        """Tries until it gets a unit, or until the sweep is over and one last try fails."""
        answers = []
        rng = random.Random(i)
        while True:
            done = swept_all.is_set()
            answers.append(await shop.reserve(i, f"cart:new-{i}", [(variant, 1)]))
            if answers[-1].status_code != 409 or done:
                return answers
            await asyncio.sleep(rng.uniform(0.005, 0.05))

    async def race() -> list[list[httpx.Response]]:
        buyers = asyncio.gather(*(buyer(i) for i in range(BUYERS)))
        await asyncio.sleep(0.05)  # the first wave finds everything held
        others = [asyncio.create_task(sweeper()) for _ in range(2)] + [asyncio.create_task(watcher())]
        results = await buyers
        await asyncio.gather(*others)
        return results

    attempts = await asyncio.wait_for(race(), timeout=50)
    flat = [r for answers in attempts for r in answers]
    statuses = Counter(r.status_code for r in flat)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] == UNITS, statuses
    assert len(flat) >= BUYERS
    assert problem_codes(flat) == {INSUFFICIENT: statuses[409]}
    assert sum(released) == UNITS  # each old hold was released once, by one of the two sweepers
    assert held_samples
    assert max(held_samples) <= UNITS  # never more held than there is, old and new holds together

    assert await shop.verify() == {"ok": True, "discrepancies": []}
    winners = {f"cart:new-{i}" for i, answers in enumerate(attempts) if answers[-1].status_code == 201}
    held = await shop.rows("SELECT reference, quantity FROM stock_reservations WHERE variant_id = :v", v=variant)
    assert sorted(r[0] for r in held) == sorted(winners)
    assert sum(r[1] for r in held) == UNITS
    expired = await shop.rows("""SELECT count(*), sum(reserved_delta) FROM stock_movements
                                 WHERE variant_id = :v AND kind = 'release' AND reason = 'expired'""", v=variant)
    assert tuple(expired[0]) == (UNITS, -UNITS)
    await assert_buckets_sound(shop, variant)
    await assert_availability_in_step(shop, variant)


async def test_multi_warehouse_carts_racing_never_deadlock_into_errors(shop: Shop) -> None:
    # Two variants in two warehouses; one SKU split into buckets, the other a single counter.
    units = [[20, 25], [15, 12]]
    variants, _ = await stocked_variants(shop, warehouses=2, units=units, buckets=[8, 1])
    rng = random.Random(5)
    carts: list[dict[uuid.UUID, int]] = []
    for _ in range(BUYERS):
        chosen = rng.sample(variants, rng.choice([1, 2, 2]))  # line order varies too
        carts.append({v: rng.randint(1, 4) for v in chosen})
    # What each buyer does once it holds stock: keep the hold, let it go, or place the order.
    follow_up = [("keep", "release", "allocate")[i % 3] for i in range(BUYERS)]

    async def buyer(i: int) -> tuple[httpx.Response, httpx.Response | None]:
        reference = f"cart:mixed-{i}"
        strategy = "fewest_splits" if i % 4 == 0 else "priority"
        held = await shop.reserve(i, reference, list(carts[i].items()), strategy=strategy)
        if held.status_code != 201 or follow_up[i] == "keep":
            return held, None
        if follow_up[i] == "release":
            after = await shop.http.post(shop.url(i + 1, RESERVE + "/release"), json={"reference": reference},
                                         headers=shop.headers)
        else:
            after = await shop.http.post(shop.url(i + 1, "/admin/inventory/allocations"),
                                         json={"reference": reference, "order_reference": f"order:mixed-{i}"},
                                         headers=shop.headers)
        return held, after

    outcomes = await asyncio.wait_for(asyncio.gather(*(buyer(i) for i in range(BUYERS))), timeout=50)
    holds = [held for held, _ in outcomes]
    statuses = Counter(r.status_code for r in holds)
    assert set(statuses) <= {201, 409}, (statuses, [r.text for r in holds if r.status_code >= 500][:3])
    assert problem_codes(holds) == {INSUFFICIENT: statuses[409]}
    assert statuses[201] > 0
    assert statuses[409] > 0  # both outcomes happened: stock really ran out
    afters = [(i, after) for i, (_, after) in enumerate(outcomes) if after is not None]
    assert {after.status_code for _, after in afters} <= {200, 201}, [a.text for _, a in afters][:3]

    # Each cart got all of its lines or nothing, and what it holds now follows what it did next.
    reserved = await shop.rows("SELECT reference, variant_id, sum(quantity) FROM stock_reservations "
                               "GROUP BY reference, variant_id")
    allocated = await shop.rows("SELECT reference, variant_id, sum(quantity) FROM stock_allocations "
                                "GROUP BY reference, variant_id")
    now_held: dict[str, dict[uuid.UUID, int]] = defaultdict(dict)
    for reference, variant, q in [*reserved, *allocated]:
        now_held[reference][variant] = int(q)
    expected: dict[str, dict[uuid.UUID, int]] = {}
    for i, held in enumerate(holds):
        if held.status_code == 201:
            assert sum(item["quantity"] for item in held.json()["items"]) == sum(carts[i].values())
            if follow_up[i] == "keep":
                expected[f"cart:mixed-{i}"] = carts[i]
            elif follow_up[i] == "allocate":
                expected[f"order:mixed-{i}"] = carts[i]
    assert dict(now_held) == expected

    assert await shop.verify() == {"ok": True, "discrepancies": []}
    for variant, per_warehouse in zip(variants, units, strict=True):
        promised = sum(cart.get(variant, 0) for cart in expected.values())
        on_hand = await shop.scalar("SELECT sum(on_hand) FROM stock_levels WHERE variant_id = :v", v=variant)
        in_buckets = await shop.scalar("""SELECT sum(b.reserved + b.allocated) FROM stock_buckets b
                                          JOIN stock_levels s ON s.id = b.stock_id WHERE s.variant_id = :v""",
                                       v=variant)
        assert (on_hand, in_buckets) == (sum(per_warehouse), promised)
        assert promised <= on_hand
        await assert_buckets_sound(shop, variant)
        await assert_availability_in_step(shop, variant)


async def test_receipts_and_policy_changes_racing_buyers_sell_every_unit_once(shop: Shop) -> None:
    # Stock arrives while the stampede runs, and the SKU's bucket count is changed twice under it.
    [variant], [warehouse] = await stocked_variants(shop, warehouses=1, units=[[10]], buckets=[8])
    waves, per_wave = 8, 5
    restocked = asyncio.Event()
    admin: list[httpx.Response] = []

    async def receipt(i: int) -> httpx.Response:
        return await shop.http.post(shop.url(i, "/admin/inventory/adjustments"), headers=shop.headers,
                                    json={"variant_id": str(variant), "warehouse_id": str(warehouse), "delta": 1,
                                          "reason": "receipt"})

    async def restock() -> None:
        await asyncio.sleep(0.1)  # the first buyers find only the first 10 units
        for wave in range(waves):
            admin.extend(await asyncio.gather(*(receipt(wave * per_wave + j) for j in range(per_wave))))
            if wave in (2, 5):
                admin.append(await shop.http.put(shop.url(wave, f"/admin/inventory/items/{variant}"),
                                                 headers=shop.headers, json={"buckets": 16 if wave == 2 else 4}))
            await asyncio.sleep(0.1)
        restocked.set()

    async def buyer(i: int) -> list[httpx.Response]:
        answers = []
        rng = random.Random(i)
        while True:
            done = restocked.is_set()
            answers.append(await shop.reserve(i, f"cart:restock-{i}", [(variant, 1)]))
            if answers[-1].status_code != 409 or done:
                return answers
            await asyncio.sleep(rng.uniform(0.05, 0.25))

    attempts, _ = await asyncio.wait_for(asyncio.gather(asyncio.gather(*(buyer(i) for i in range(BUYERS))),
                                                        restock()), timeout=50)
    assert [r.status_code for r in admin] == [201] * 15 + [200] + [201] * 15 + [200] + [201] * 10, \
        [r.text for r in admin if r.status_code >= 300][:3]
    flat = [r for answers in attempts for r in answers]
    statuses = Counter(r.status_code for r in flat)
    assert set(statuses) <= {201, 409}, (statuses, [r.text for r in flat if r.status_code >= 500][:3])
    units = 10 + waves * per_wave
    assert statuses[201] == units
    assert await shop.verify() == {"ok": True, "discrepancies": []}
    assert await shop.scalar("SELECT sum(quantity) FROM stock_reservations WHERE variant_id = :v", v=variant) == units
    await assert_buckets_sound(shop, variant)
    await assert_availability_in_step(shop, variant)
