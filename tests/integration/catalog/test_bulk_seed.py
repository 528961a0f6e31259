"""Benchmark catalogues: `mercato seed --demo --products N` bulk-loads generated products."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules import catalog
from mercato.modules.catalog import listing
from tests.fixtures.processes import process_env

# The data sets sit in ../shared/data beside every checkout here (CI included): their absence is a
# failure, not a reason to skip.
pytestmark = [
    pytest.mark.slow,
]

TARGET = 20_000


def seed(url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mercato", "seed", "--demo", *args], env=process_env(url),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def test_products_option_bulk_loads_and_a_rerun_adds_nothing(
    settings: Settings, fresh_database: Callable[[], str]
) -> None:
    url = fresh_database()
    started = time.perf_counter()
    output = seed(url, "--products", str(TARGET))
    elapsed = time.perf_counter() - started
    loaded = re.search(r"([\d,]+) added in ([\d.]+) s, ([\d,]+) products/s", output)
    assert loaded, output
    print(f"\n--products {TARGET}: {loaded.group(0)}; whole command {elapsed:.1f} s")
    assert elapsed < 180  # generous: a shared 2-core machine; the rate itself is printed above

    db = Database.connect(url, settings, pool_size=1, max_overflow=0)
    try:
        assert await scalar(db, "SELECT count(*) FROM products") == TARGET
        assert await scalar(db, "SELECT count(*) FROM products WHERE status = 'published'") == TARGET
        generated = await scalar(db, "SELECT count(*) FROM products WHERE attributes ? 'seq'")
        assert generated == TARGET - await scalar(db, "SELECT count(*) FROM products WHERE NOT attributes ? 'seq'")
        assert int(loaded.group(1).replace(",", "")) == generated
        assert await scalar(db, "SELECT count(DISTINCT (attributes->>'seq')::int) FROM products") == generated
        assert await scalar(db, "SELECT max((attributes->>'seq')::int) FROM products") == generated
        # One or two variants each, priced in every channel; listings: one row per product and channel.
        assert await scalar(db, """
            SELECT count(*) FROM (
                SELECT p.id FROM products p LEFT JOIN variants v ON v.product_id = p.id
                WHERE p.attributes ? 'seq' GROUP BY p.id HAVING count(v.id) NOT IN (1, 2)) s
        """) == 0
        assert await scalar(db, """
            SELECT count(*) FROM variants v CROSS JOIN channels c
            WHERE c.code IN ('web-eu', 'web-us', 'web-gb') AND NOT EXISTS (
                SELECT 1 FROM variant_prices vp
                WHERE vp.variant_id = v.id AND vp.channel_id = c.id AND vp.currency = c.currency AND vp.amount > 0)
        """) == 0
        assert await scalar(db, "SELECT count(*) FROM product_listings") == TARGET * 3
        assert await scalar(db, """
            SELECT count(*) FROM product_listings l
            WHERE l.min_price <> (SELECT min(vp.amount) FROM variants v JOIN variant_prices vp ON vp.variant_id = v.id
                                  WHERE v.product_id = l.product_id AND vp.channel_id = l.channel_id)
        """) == 0
        sample = await scalar(db, "SELECT name FROM products WHERE (attributes->>'seq')::int = 1")
        assert re.fullmatch(r".+ #2", sample)

        # The listing rows written by the bulk load are exactly those listing.refresh would write.
        async with db.sessionmaker() as session, session.begin():
            query = text("SELECT l.* FROM product_listings l JOIN products p ON p.id = l.product_id "
                         "WHERE p.attributes ? 'seq' ORDER BY l.product_id, l.channel_id LIMIT 3000")
            before = (await session.execute(query)).all()
            ids = sorted({row.product_id for row in before})
            assert await listing.refresh(session, ids) == len(before)
            assert (await session.execute(query)).all() == before
            await session.rollback()
    finally:
        await db.dispose()

    rerun = seed(url, "--products", str(TARGET))
    assert "(0 added" in rerun, rerun
    assert "Seed complete (0 rows added" in rerun, rerun
    db = Database.connect(url, settings, pool_size=2, max_overflow=0)
    try:
        assert await scalar(db, "SELECT count(*) FROM products") == TARGET
        assert await scalar(db, "SELECT count(*) FROM product_listings") == TARGET * 3

        # Gaps (deleted products) are filled and a larger N adds just the missing ones, never a duplicate.
        async with db.sessionmaker() as session, session.begin():
            await session.execute(text("DELETE FROM products WHERE (attributes->>'seq')::int BETWEEN 100 AND 109"))
        result = await catalog.seed_bulk(db.sessionmaker, TARGET + 500, chunk_size=200)
        assert (result.existing, result.added) == (TARGET - 10, 510)
        assert await scalar(db, "SELECT count(*) FROM products") == TARGET + 500
        assert await scalar(db, "SELECT count(DISTINCT slug) FROM products") == TARGET + 500
        assert await scalar(db, "SELECT count(DISTINCT (attributes->>'seq')::int) FROM products") == generated + 500
        assert await scalar(db, "SELECT count(*) FROM product_listings") == (TARGET + 500) * 3
        smaller = await catalog.seed_bulk(db.sessionmaker, 1_000)
        assert smaller.added == 0
    finally:
        await db.dispose()


async def test_bulk_needs_the_demo_store(settings: Settings, fresh_database: Callable[[], str]) -> None:
    db = Database.connect(fresh_database(), settings, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(catalog.DemoNotSeeded):
            await catalog.seed_bulk(db.sessionmaker, 10)
        with pytest.raises(ValueError, match="between"):
            await catalog.seed_bulk(db.sessionmaker, 1_000_001)
    finally:
        await db.dispose()
