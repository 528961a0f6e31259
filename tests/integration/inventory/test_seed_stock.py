"""The demo store's stock (`mercato seed --demo`): two warehouses, stock for every demo variant (most
in stock, some out), a ledger that verifies, availability and listings in step with the stock."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules import catalog, channels
from mercato.modules.catalog import listing
from mercato.modules.inventory import seed, stock
from tests.fixtures.databases import TestDatabases
from tests.fixtures.processes import process_env


@pytest.fixture(scope="module")
async def seeded(settings: Settings, databases: TestDatabases) -> AsyncIterator[tuple[Database, int]]:
    """One committed database with the demo catalogue and its stock, shared by this module's tests."""
    name = f"p_{uuid.uuid4().hex[:12]}"
    db = Database.connect(databases.create(name), settings, pool_size=2, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            await channels.seed_base(session)
            await catalog.seed_demo(session)
            added = await seed.seed_demo_stock(session)
        yield db, added
    finally:
        await db.dispose()
        databases.drop(name)


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def test_two_warehouses_stock_every_demo_variant(seeded: tuple[Database, int]) -> None:
    db, added = seeded
    variants = await scalar(db, "SELECT count(*) FROM variants")
    assert added == 2 + 2 * variants
    assert await scalar(db, "SELECT count(*) FROM variants WHERE NOT track_inventory") == 0
    warehouses = {row[0]: row[1:] for row in (await _rows(db, """
        SELECT w.code, w.country_code, w.click_and_collect, w.latitude IS NOT NULL AND w.longitude IS NOT NULL,
               ARRAY(SELECT c.code FROM channels c WHERE c.id = ANY(w.channel_ids) ORDER BY c.code),
               (SELECT count(*) FROM stock_levels s WHERE s.warehouse_id = w.id AND s.on_hand > 0)
        FROM warehouses w ORDER BY w.code"""))}
    assert set(warehouses) == {"berlin", "newark"}
    assert warehouses["berlin"][:4] == ("DE", True, True, ["web-eu", "web-gb"])
    assert warehouses["newark"][:4] == ("US", False, True, ["web-gb", "web-us"])
    for code, row in warehouses.items():
        assert row[4] > variants * 0.8, code  # most variants are in stock in each warehouse
    assert await scalar(db, "SELECT count(*) FROM stock_levels") == 2 * variants
    # Some variants have no stock anywhere: a small share, not none and not most.
    empty = await scalar(db, """SELECT count(*) FROM (SELECT variant_id FROM stock_levels GROUP BY variant_id
                                                      HAVING sum(on_hand) = 0) s""")
    assert 0.02 * variants < empty < 0.1 * variants
    # One bucket per row, handing out exactly what is on hand.
    assert await scalar(db, """SELECT count(*) FROM stock_levels s JOIN stock_buckets b ON b.stock_id = s.id
                               WHERE b.n = 0 AND b.quota = s.on_hand AND b.reserved = 0 AND b.allocated = 0""") \
        == 2 * variants


async def test_the_ledger_verifies(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    assert await scalar(db, """
        SELECT count(*) FROM stock_levels s
        WHERE s.on_hand <> coalesce((SELECT sum(m.on_hand_delta) FROM stock_movements m WHERE m.stock_id = s.id), 0)
    """) == 0
    assert await scalar(db, """SELECT count(*) FROM stock_movements
                               WHERE kind <> 'receipt' OR reason <> 'demo seed' OR actor <> 'seed'
                                  OR quantity <> on_hand_delta OR quantity <= 0""") == 0
    assert await scalar(db, "SELECT count(*) FROM stock_movements") == await scalar(
        db, "SELECT count(*) FROM stock_levels WHERE on_hand > 0")
    async with db.sessionmaker() as session:
        assert await stock.verify(session) == []


async def test_availability_and_listings_agree_with_the_stock(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    variants = await scalar(db, "SELECT count(*) FROM variants")
    assert await scalar(db, "SELECT count(*) FROM inventory_availability") == variants * 3
    async with db.sessionmaker() as session, session.begin():
        # The inventory's own rule finds nothing to flip, and the catalogue's nothing to re-list.
        ids = [row[0] for row in await session.execute(text("SELECT id FROM variants ORDER BY id"))]
        assert await stock.recompute_availability(session, ids) == []
        query = text("SELECT * FROM product_listings ORDER BY product_id, channel_id")
        before = (await session.execute(query)).all()
        await listing.refresh(session)
        assert (await session.execute(query)).all() == before
        await session.rollback()
    counts = dict(await _rows(db, """SELECT c.code || ':' || l.in_stock, count(*) FROM product_listings l
                                      JOIN channels c ON c.id = l.channel_id GROUP BY 1"""))
    for code in ("web-eu", "web-us", "web-gb"):
        assert counts[f"{code}:true"] > 10 * counts[f"{code}:false"] > 0, counts
    # web-gb is served by both warehouses, so fewer of its products are out of stock.
    assert counts["web-gb:false"] < counts["web-eu:false"]


async def test_the_storefront_shows_products_in_and_out_of_stock(
    seeded: tuple[Database, int], settings: Settings
) -> None:
    db, _ = seeded
    app = create_app(settings, database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for channel in ("web-eu", "web-us"):
            out = await client.get("/store/products", params={"channel": channel, "in_stock": "false"})
            assert out.json()["items"], channel
            detail = await client.get(f"/store/products/{out.json()['items'][0]['id']}", params={"channel": channel})
            assert detail.json()["in_stock"] is False
            assert {v["in_stock"] for v in detail.json()["variants"]} == {False}
            ids = [v["id"] for v in detail.json()["variants"]]
            available = await client.get("/store/availability",
                                         params=[("variant_id", i) for i in ids] + [("channel", channel)])
            assert {(i["in_stock"], i["available_quantity"]) for i in available.json()["items"]} == {(False, 0)}
            inside = await client.get("/store/products", params={"channel": channel, "in_stock": "true"})
            assert inside.json()["items"], channel


async def test_a_second_run_adds_nothing(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    async with db.sessionmaker() as session, session.begin():
        assert await seed.seed_demo_stock(session) == 0
        await session.rollback()


async def test_a_shop_with_its_own_warehouses_gets_no_demo_stock(
    settings: Settings, fresh_database: Callable[[], str]
) -> None:
    db = Database.connect(fresh_database(), settings, pool_size=1, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            await channels.seed_base(session)
            await session.execute(text("""INSERT INTO warehouses (id, code, name, address, country_code, priority,
                                            is_active, click_and_collect, channel_ids, ship_countries, version)
                                          VALUES (gen_random_uuid(), 'main', 'Main', '{}', 'DE', 1, true, false,
                                                  '{}', '{}', 1)"""))
            assert await seed.seed_demo_stock(session) == 0
            assert await session.scalar(text("SELECT count(*) FROM warehouses")) == 1
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_seed_demo_stocks_the_store(settings: Settings, fresh_database: Callable[[], str]) -> None:
    url = fresh_database()
    for command in (["seed", "--demo"], ["inventory", "verify"]):
        done = subprocess.run([sys.executable, "-m", "mercato", *command], env=process_env(url),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    db = Database.connect(url, settings, pool_size=1, max_overflow=0)
    try:
        assert await scalar(db, "SELECT count(DISTINCT warehouse_id) FROM stock_levels WHERE on_hand > 0") == 2
        assert await scalar(db, "SELECT count(*) FROM product_listings WHERE NOT in_stock") > 0
    finally:
        await db.dispose()


async def _rows(db: Database, sql: str) -> list[Any]:
    async with db.sessionmaker() as session:
        return list((await session.execute(text(sql))).all())
