"""Done-when of issue #4: a 100,000-row CSV with 1% bad rows imports with an exact error report and the
good rows in place; re-running it changes nothing. Run as `mercato import` against a fresh database
(committed data, the real per-batch transactions), the way an operator runs it."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mercato.kit.db import Database
from mercato.kit.settings import Settings
from tests.fixtures.processes import process_env
from tests.integration.catalog.import_factories import checksum, generate_rows, make_taxonomy, write_csv

ROWS = int(os.environ.get("IMPORT_ROWS", "100000"))


def _cli(url: str, storage: Path, *args: str) -> tuple[int, str, float]:
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mercato", *args], capture_output=True, text=True, timeout=600,
                          env=process_env(url, MERCATO_MEDIA_DIR=str(storage)), check=False)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = cpu1.ru_utime - cpu0.ru_utime, cpu1.ru_stime - cpu0.ru_stime
    print(f"\nmercato {args[0]}: process cpu user {user:.1f} s, sys {system:.1f} s")
    # Rich wraps lines at the terminal width: words separated by single spaces make the text searchable.
    return done.returncode, " ".join((done.stdout + done.stderr).split()), time.perf_counter() - started


async def _query(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def test_100k_rows_with_1_percent_bad(settings: Settings, fresh_database: Callable[[], str],
                                            tmp_path: Path) -> None:
    url = fresh_database()
    db = Database.connect(url, settings, pool_size=1, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            await make_taxonomy(session)
        rows, expected = generate_rows(ROWS)
        path = tmp_path / "catalogue.csv"
        write_csv(path, rows)
        del rows
        assert len(expected.bad) == ROWS // 100

        code, output, elapsed = _cli(url, tmp_path / "storage", "import", str(path))
        rate = re.search(r"Imported ([\d,]+) rows in ([\d.]+) s \(([\d,]+) rows/s\)", output)
        assert rate, output
        assert code == 1, output  # exit 1: some rows failed
        print(f"\nfirst run: {rate.group(0)}; whole command {elapsed:.1f} s")
        assert f"failed {len(expected.bad):,}" in output
        assert "First 20 row errors" in output
        job_id = re.search(r"job ([0-9a-f-]{36})", output).group(1)  # type: ignore[union-attr]

        errors = await _query(db, "SELECT row, field FROM catalog_job_errors WHERE job_id = :j ORDER BY id", j=job_id)
        assert [tuple(e) for e in errors] == sorted(expected.bad.items())
        counts = (await _query(db, "SELECT counts FROM catalog_jobs WHERE id = :j", j=job_id))[0][0]
        assert counts == {"rows": ROWS, "created": expected.good_rows, "updated": 0, "unchanged": 0,
                          "failed": len(expected.bad), "products_created": expected.products, "products_updated": 0}
        assert (await _query(db, "SELECT count(*) FROM variants"))[0][0] == expected.good_rows
        assert (await _query(db, "SELECT count(*) FROM products"))[0][0] == expected.products
        assert (await _query(db, "SELECT count(*) FROM product_revisions"))[0][0] == expected.products
        # Spot checks: a good row's values landed; a bad row's variant did not.
        white = await _query(db, """
            SELECT p.name, p.status, c.slug, p.attributes->>'material', v.options->>'colour', vp.amount, vp.currency
            FROM variants v JOIN products p ON p.id = v.product_id JOIN categories c ON c.id = p.category_id
            JOIN variant_prices vp ON vp.variant_id = v.id JOIN channels ch ON ch.id = vp.channel_id
            WHERE v.sku = '85123A-0-0' AND ch.code = 'web-eu'""")
        assert [tuple(w) for w in white] == [("White Hanging Heart T-Light Holder", "draft", "home-decor", "cotton",
                                              "red", 255, "EUR")]
        listed = (await _query(db, "SELECT count(DISTINCT product_id) FROM product_listings"))[0][0]
        published = (await _query(db, "SELECT count(*) FROM products WHERE status = 'published'"))[0][0]
        assert listed == published > 0

        async with db.sessionmaker() as session:
            before = await checksum(session)
        code, output, elapsed = _cli(url, tmp_path / "storage", "import", str(path))
        assert code == 1, output
        again = re.search(r"Imported ([\d,]+) rows in ([\d.]+) s \(([\d,]+) rows/s\)", output)
        print(f"re-run: {again.group(0) if again else output}; whole command {elapsed:.1f} s")
        assert re.search(r"created 0, updated 0, unchanged " + f"{expected.good_rows:,}", output), output
        async with db.sessionmaker() as session:
            assert await checksum(session) == before
    finally:
        await db.dispose()
