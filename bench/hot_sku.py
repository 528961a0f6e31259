"""Hot SKU reservations for bench/run.py: a throw-away database with one hot SKU per bucket count,
a staff token for the reservation endpoint, and the database-level driver (pgbench scripts).

Every SKU has HOT_UNITS on hand, so no run ever sells out: each figure is how fast one SKU can be
reserved while 64 buyers want it at once, not how fast "sold out" is answered.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

HOT_UNITS = 1_000_000
# Bucket counts measured: 1 is the classic single-row counter run through the real service.
BUCKET_COUNTS = (1, 4, 16, 64)
# The literal single-row conditional update (no buckets, no savepoint, no reads): the strongest
# naive baseline, with the same two inserts as the service.
NAIVE_SCRIPT = """\\set r random(1, 2000000000)
BEGIN;
UPDATE stock_buckets SET reserved = reserved + 1
WHERE stock_id = :stock AND n = 0 AND quota - reserved - allocated >= 1;
{insert_hold}
COMMIT;
"""


@dataclass(frozen=True)
class HotSku:
    database: str
    url: str
    warehouse_id: uuid.UUID
    variants: dict[str, uuid.UUID]  # "naive", "b1", "b4", ... -> variant
    stocks: dict[str, uuid.UUID]  # same keys -> stock row


def create_database(base_url: str) -> tuple[str, str]:
    """A migrated throw-away database beside `base_url`'s (its ledger grows by every reservation)."""
    from mercato.kit.migrations import upgrade

    name = f"bench_hot_{secrets.token_hex(4)}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
    except BaseException:
        drop_database(base_url, name)
        raise
    return name, url


def drop_database(base_url: str, name: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def prepare(base_url: str) -> HotSku:
    name, url = create_database(base_url)
    try:
        warehouse, variants, stocks = asyncio.run(_fill(url))
    except BaseException:
        drop_database(base_url, name)
        raise
    return HotSku(name, url, warehouse, variants, stocks)


async def _fill(url: str) -> tuple[uuid.UUID, dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """One product with a stock-tracked variant per configuration, all in one warehouse, through the
    services (so buckets, quotas and ledger are what production would have)."""
    from sqlalchemy import text

    from mercato.kit.db import Database
    from mercato.kit.settings import get_settings
    from mercato.modules import channels
    from mercato.modules.catalog.models import Product, Variant
    from mercato.modules.inventory import item_policy, stock
    from mercato.modules.inventory.models import Warehouse

    db = Database.connect(url, get_settings(), pool_size=1, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            await channels.seed_base(session)
            channel_ids = list((await session.execute(text("SELECT id FROM channels"))).scalars())
            warehouse = Warehouse(code="bench-hot", name="Bench hot SKU", country_code="DE", channel_ids=channel_ids,
                                  address={"line1": "1 Dock Road", "city": "Berlin", "postal_code": "10115",
                                           "country_code": "DE"})
            product = Product(slug="bench-hot-sku", name="Bench hot SKU", description="", status="published",
                              attributes={})
            session.add_all([warehouse, product])
            await session.flush()
            keys = ["naive", *(f"b{k}" for k in BUCKET_COUNTS)]
            variants: dict[str, uuid.UUID] = {}
            stocks: dict[str, uuid.UUID] = {}
            for position, key in enumerate(keys):
                variant = Variant(product_id=product.id, sku=f"BENCH-HOT-{key.upper()}", name=f"Hot {key}",
                                  options={}, track_inventory=True, position=position)
                session.add(variant)
                await session.flush()
                buckets = 1 if key == "naive" else int(key[1:])
                await item_policy.put_policy(session, variant.id, item_policy.PolicyData(buckets=buckets))
                row = await stock.change_on_hand(session, variant_id=variant.id, warehouse_id=warehouse.id,
                                                 kind="receipt", delta=HOT_UNITS, actor="bench")
                variants[key], stocks[key] = variant.id, row.stock_id
        return warehouse.id, variants, stocks
    finally:
        await db.dispose()


def staff_token(url: str, secret: str) -> str:
    """A staff access token (inventory:read/write) for the server signing with `secret`, backed by
    a session row as a login would make."""
    from mercato.modules.identity.tokens import issue_access_token

    staff_id, session_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO auth_sessions (id, subject_kind, subject_id, created_at, last_seen_at, "
                     "idle_expires_at, absolute_expires_at) VALUES (%s, 'staff', %s, now(), now(), "
                     "now() + interval '1 day', now() + interval '1 day')", (session_id, staff_id))
    return issue_access_token(secret, subject=str(staff_id), kind="staff",
                              permissions=["inventory:read", "inventory:write"], ttl=timedelta(hours=2),
                              session_id=str(session_id))


def ledger_discrepancies(url: str) -> int:
    """What `mercato inventory verify` would report for the bench database (0 when all is well)."""
    from mercato.kit.db import Database
    from mercato.kit.settings import get_settings
    from mercato.modules.inventory import stock

    async def check() -> int:
        db = Database.connect(url, get_settings(), pool_size=1, max_overflow=0)
        try:
            async with db.sessionmaker() as session:
                return len(await stock.verify(session))
        finally:
            await db.dispose()

    return asyncio.run(check())


# ---------------------------------------------------------------------------------------------
# the database-level driver: pgbench (C, so the client costs little next to the server's work)


# The hold and its ledger movement in one statement, as `stock.reserve` writes them (both scripts
# use it, so the only difference between them is how the bucket is taken).
_INSERT_HOLD = """WITH held AS (
    INSERT INTO stock_reservations (id, reference, stock_id, bucket, variant_id, warehouse_id, quantity, channel_id,
                                    expires_at, created_at)
    VALUES (gen_random_uuid(), 'pgbench:' || CAST(:client_id AS text) || ':' || CAST(:r AS text), :stock, {bucket},
            :variant, :warehouse, 1, NULL, now() + interval '15 minutes', now())
    RETURNING stock_id, variant_id, warehouse_id, quantity)
INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta, reserved_delta,
                             allocated_delta, reason, reference_type, reference_id, actor, created_at)
SELECT stock_id, variant_id, warehouse_id, 'reservation', quantity, 0, quantity, 0, NULL, 'pgbench',
       CAST(:client_id AS text) || ':' || CAST(:r AS text), 'bench', now() FROM held;"""


def _pgbench_params(sql: str, **values: str) -> str:
    """The service's bound parameters as pgbench expressions (one unit, a cart of its own)."""
    reference = "CAST(:client_id AS text) || ':' || CAST(:r AS text)"
    defaults = {"s": ":stock", "q": "1", "ref": f"'pgbench:' || {reference}", "channel": "NULL",
                "country": "NULL", "expires": "now() + interval '15 minutes'", "rt": "'pgbench'", "rid": reference,
                "actor": "'bench'", "stocks": "'{' || :stock || '}'", "quantities": "'{1}'",
                "bucket_counts": "'{' || :buckets || '}'", "ids": "'{' || gen_random_uuid() || '}'",
                "variants": "'{' || :variant || '}'", "warehouses": "'{' || :warehouse || '}'", **values}
    for name, value in sorted(defaults.items(), key=lambda item: -len(item[0])):
        sql = re.sub(rf"(?<!:):{name}\b", lambda _, value=value: value, sql)  # type: ignore[misc]
    return sql.strip()


def service_script() -> str:
    """The statements `stock.reserve` sends for a one-line cart, taken from the service itself: the
    candidate read (a function call), then the take-and-hold call in the skip-locked mode (random
    offset, SKIP LOCKED; the hold and its movement written by the same call, which rolls itself back
    when it finds no bucket); when that comes back empty, the candidates again and the same call
    waiting for one random bucket with room; when that too comes back empty, a savepoint, every
    bucket of the row locked in order and the units taken under those locks."""
    from mercato.modules.inventory import stock

    candidates = _pgbench_params(stock._CANDIDATES)

    def take(mode: str) -> str:
        sql = _pgbench_params(stock._TAKE, mode=f"'{mode}'")
        return sql.replace("SELECT take, bucket, free", "SELECT count(*) AS got")

    return f"""\\set r random(1, 2000000000)
BEGIN;
{candidates};
{take("skip_locked")} \\gset
\\if :got = 0
{candidates};
{take("wait_one")} \\gset
\\endif
\\if :got = 0
SAVEPOINT reserve;
SELECT 1 FROM stock_buckets WHERE stock_id = :stock ORDER BY n FOR UPDATE;
{candidates};
UPDATE stock_buckets SET reserved = reserved + 1
WHERE stock_id = :stock AND n = (SELECT min(n) FROM stock_buckets
                                 WHERE stock_id = :stock AND quota - reserved - allocated >= 1)
RETURNING n \\gset
{_INSERT_HOLD.format(bucket=":n")}
RELEASE SAVEPOINT reserve;
\\endif
COMMIT;
"""


def naive_script() -> str:
    return NAIVE_SCRIPT.format(insert_hold=_INSERT_HOLD.format(bucket="0"))


def pgbench_binary() -> str:
    from mercato.kit.embedded_pg import _bin_dir

    return str(_bin_dir() / "pgbench")


def run_pgbench(argv_prefix: list[str], hot: HotSku, key: str, script: Path, *, clients: int, threads: int,
                duration: int) -> dict[str, Any]:
    """`clients` connections running `script` on `key`'s SKU for `duration` s; pgbench's figures."""
    argv = [*argv_prefix, pgbench_binary(), "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads),
            "-T", str(duration), "-f", str(script), "-D", f"stock={hot.stocks[key]}",
            "-D", f"variant={hot.variants[key]}", "-D", f"variants={{{hot.variants[key]}}}",
            "-D", f"warehouse={hot.warehouse_id}",
            "-D", f"buckets={int(key[1:]) if key.startswith('b') and key[1:].isdigit() else 1}", hot.url]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return _pgbench_figures(done.stdout)


def _pgbench_figures(out: str) -> dict[str, Any]:
    def number(pattern: str) -> float | None:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else None

    return {
        "tps": number(r"tps = ([\d.]+) \(without initial connection time\)"),
        "transactions": int(number(r"number of transactions actually processed: (\d+)") or 0),
        "failed": int(number(r"number of failed transactions: (\d+)") or 0),
        "latency_avg_ms": number(r"latency average = ([\d.]+) ms"),
    }
