"""Bulk export of products, variants and base prices in the import format (import_rows.py).

The rows stream out in pages of `PAGE_SIZE` variants, keyset-paginated on (product id, position,
variant id) along the variants' (product_id, position) index, so a product's rows are contiguous
and memory is one page whatever the catalogue size. Each page is two statements (variants with
their product fields and reference slugs, then the page's prices); the CSV header needs three
more up front (attribute codes, option names, channels). All of it reads one REPEATABLE READ
snapshot, so a file never mixes states. Importing the file into an empty catalogue reproduces the
products, variants and prices (statuses in_review/archived are written blank: "keep", or draft for
a new product; products without variants have no row; scheduled prices are not exported).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.storage import Storage
from mercato.modules import channels
from mercato.modules.catalog.attribute_rules import AttributeDef
from mercato.modules.catalog.attributes_admin import option_values
from mercato.modules.catalog.import_rows import IMPORT_STATUSES, ProductFields, Record, VariantFields, header, to_row
from mercato.modules.catalog.models import Attribute, CatalogJob

PAGE_SIZE = 1000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

_PAGE = """
SELECT v.id, v.product_id, v.position, v.sku, v.name, v.options, v.gtin, v.weight_grams, v.tax_class,
       v.track_inventory, v.min_quantity, v.max_quantity,
       p.slug, p.name, p.description, p.status, b.slug, c.slug, t.slug, p.tags, p.attributes
FROM variants v
JOIN products p ON p.id = v.product_id
LEFT JOIN brands b ON b.id = p.brand_id
LEFT JOIN categories c ON c.id = p.category_id
LEFT JOIN product_types t ON t.id = p.product_type_id
WHERE CAST(:first AS boolean) OR (v.product_id, v.position, v.id) > (:product_id, :position, :variant_id)
ORDER BY v.product_id, v.position, v.id
LIMIT :limit
"""

_PRICES = """
SELECT DISTINCT ON (vp.variant_id, ch.code) vp.variant_id, ch.code, vp.amount, vp.compare_at_amount
FROM variant_prices vp JOIN channels ch ON ch.id = vp.channel_id
WHERE vp.variant_id = ANY(:ids) AND vp.valid_from IS NULL AND vp.valid_to IS NULL
ORDER BY vp.variant_id, ch.code, vp.id
"""

_ATTRIBUTE_CODES = "SELECT DISTINCT jsonb_object_keys(attributes) FROM products ORDER BY 1"
_OPTION_NAMES = "SELECT DISTINCT jsonb_object_keys(options) FROM variants ORDER BY 1"


async def _attribute_types(session: AsyncSession) -> dict[str, AttributeDef]:
    rows = (await session.execute(select(Attribute))).scalars().all()
    return {a.code: AttributeDef(a.code, a.type, False, option_values(a.options), a.unit) for a in rows}


async def rows(session: AsyncSession, fmt: str) -> AsyncIterator[bytes]:
    """The export file, a page at a time (encoded)."""
    types = await _attribute_types(session)
    channel_codes = [c.code for c in (await channels.list_channels(session, limit=100, cursor=None)).items]
    is_csv = fmt == "csv"
    columns: list[str] = []
    if is_csv:
        codes = list((await session.execute(text(_ATTRIBUTE_CODES))).scalars())
        options = list((await session.execute(text(_OPTION_NAMES))).scalars())
        columns = header(codes, options, channel_codes)
        yield _csv_lines([columns])
    cursor: tuple[Any, ...] | None = None
    while True:
        params = {"first": cursor is None, "product_id": cursor[0] if cursor else uuid.UUID(int=0),
                  "position": cursor[1] if cursor else 0, "variant_id": cursor[2] if cursor else uuid.UUID(int=0),
                  "limit": PAGE_SIZE}
        page = (await session.execute(text(_PAGE), params)).all()
        if not page:
            return
        prices: dict[uuid.UUID, dict[str, tuple[int, int | None]]] = {}
        for variant_id, code, amount, compare_at in await session.execute(text(_PRICES),
                                                                          {"ids": [r[0] for r in page]}):
            prices.setdefault(variant_id, {})[code] = (amount, compare_at)
        records = [_record(r, prices.get(r[0], {}), channel_codes) for r in page]
        if is_csv:
            yield _csv_lines([[row.get(c, "") for c in columns]
                              for row in (to_row(rec, csv=True, types=types) for rec in records)])
        else:
            yield b"".join(orjson.dumps(to_row(rec, csv=False)) + b"\n" for rec in records)
        last = page[-1]
        cursor = (last[1], last[2], last[0])


def _record(r: Any, prices: dict[str, tuple[int, int | None]], channel_order: list[str]) -> Record:
    status = r[15] if r[15] in IMPORT_STATUSES else None
    product = ProductFields(slug=r[12], name=r[13], description=r[14], status=status, brand=r[16], category=r[17],
                            product_type=r[18], tags=tuple(r[19]), attributes=dict(r[20]))
    ordered = {code: prices[code] for code in channel_order if code in prices}
    variant = VariantFields(sku=r[3], name=r[4], options=dict(r[5]), gtin=r[6], weight_grams=r[7], tax_class=r[8],
                            track_inventory=r[9], min_quantity=r[10], max_quantity=r[11], prices=ordered)
    return Record(0, product, variant)


def _csv_lines(lines: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(lines)
    return out.getvalue().encode()


def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions reading one REPEATABLE READ snapshot (unless bound to a connection already in a
    transaction, as in tests, which is its own snapshot of sorts)."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine):
        return async_sessionmaker(bind=bind.execution_options(isolation_level="REPEATABLE READ"),
                                  expire_on_commit=False, autoflush=False)
    return sessions


def export_key(job_id: uuid.UUID, fmt: str) -> str:
    return f"exports/{job_id}.{fmt}"


async def run_export(
    sessions: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    storage: Storage,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Write the export file of a queued job to storage and mark the job succeeded (or failed)."""
    async with sessions() as session, session.begin():
        job = await session.get(CatalogJob, job_id, with_for_update=True)
        if job is None or job.kind != "export" or job.status in ("succeeded", "failed"):
            return
        job.status, job.started_at = "running", utcnow()
        fmt = job.format
    key = export_key(job_id, fmt)
    count = 0

    async def counted(session: AsyncSession) -> AsyncIterator[bytes]:
        nonlocal count
        async for chunk in rows(session, fmt):
            count += chunk.count(b"\n")
            if on_progress is not None:
                on_progress(count)
            yield chunk

    async with _snapshot(sessions)() as session, session.begin():
        await storage.write(key, counted(session), CONTENT_TYPES[fmt])
    async with sessions() as session, session.begin():
        job = await session.get(CatalogJob, job_id, with_for_update=True)
        if job is not None:
            job.status, job.file_key, job.finished_at = "succeeded", key, utcnow()
            job.counts = {"rows": count - 1 if fmt == "csv" else count}
