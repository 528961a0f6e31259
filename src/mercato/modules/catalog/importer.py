"""Bulk import of products, variants and prices from CSV or JSON Lines (format: import_rows.py).

How a job runs (`run_import`):
- The file streams from storage (import_files.py) in batches of `BATCH_SIZE` rows; memory is one
  batch plus bounded lookup caches, whatever the file size.
- Each batch is one transaction: it validates its rows, resolves brand/category/type slugs and
  existing SKUs with one query each, writes with set-based statements (products by slug, variants
  by SKU, base prices per variant and channel) whose UPDATEs only touch rows that really differ,
  records a revision (action "import", the job's actor) and refreshes the listing of every product
  it created or changed, stores the rows' errors and advances the job's counts. Committing the counts
  with the data makes progress visible to the admin and makes `counts["rows"]` an exact resume
  point: a run that stops (crash, time budget) is continued by running the job again.
- A row with any invalid field is skipped whole and reported (row, field, message); the other rows
  are applied. A SKU that belongs to another product (in the catalogue or earlier in the file) and
  a product whose rows disagree on its fields are row errors too. Conflicts are checked against the
  last `SEEN_LIMIT` products/SKUs of the file; rows of one product belong together (as exported).
- Re-running a file changes nothing: unchanged rows produce no UPDATE, so no version bump, no
  revision and `updated_at` stays.
- Dry run: the batch's writes happen inside a savepoint that is rolled back, so the counts are those
  of a real run (per batch) while only the job and its errors are stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.ids import new_id
from mercato.kit.storage import Storage
from mercato.modules import channels
from mercato.modules.catalog import listing, revisions
from mercato.modules.catalog.attribute_rules import AttributeDef
from mercato.modules.catalog.attributes_admin import definitions_for
from mercato.modules.catalog.import_files import CsvRows, FileFormatError, RawRow, jsonl_batches
from mercato.modules.catalog.import_rows import Record, RowError, check_attributes, parse_row
from mercato.modules.catalog.models import CatalogJob, CatalogJobError

BATCH_SIZE = 1000
SEEN_LIMIT = 200_000
COUNT_KEYS = ("rows", "created", "updated", "unchanged", "failed", "products_created", "products_updated")
Progress = Callable[[dict[str, int]], None]


@dataclass(frozen=True)
class ChannelRef:
    id: uuid.UUID
    currency: str


class _Seen:
    """The most recent `limit` keys of the file, for conflicts between rows (bounded memory)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict[str, tuple[Any, int]] = OrderedDict()

    def get(self, key: str) -> tuple[Any, int] | None:
        return self.items.get(key)

    def put(self, key: str, value: Any, row: int) -> None:
        self.items[key] = (value, row)
        self.items.move_to_end(key)
        if len(self.items) > self.limit:
            self.items.popitem(last=False)


@dataclass
class _Context:
    job_id: uuid.UUID
    actor: str
    dry_run: bool
    may_publish: bool
    channels: dict[str, ChannelRef]
    counts: dict[str, int]
    refs: dict[tuple[str, str], uuid.UUID | None] = field(default_factory=dict)
    type_defs: dict[uuid.UUID, list[AttributeDef]] = field(default_factory=dict)
    products: _Seen = field(default_factory=lambda: _Seen(SEEN_LIMIT))
    skus: _Seen = field(default_factory=lambda: _Seen(SEEN_LIMIT))
    changed_any: bool = False


async def run_import(
    sessions: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    storage: Storage,
    *,
    batch_size: int = BATCH_SIZE,
    deadline: float | None = None,
    on_progress: Progress | None = None,
    on_catalog_changed: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """Run (or continue) an import job. Returns False when `deadline` (time.monotonic()) passed
    before the end: call again to continue. The job ends `succeeded` (row errors are not a failure)
    or `failed` (the file cannot be read: `error` says why)."""
    async with sessions() as session, session.begin():
        job = await session.get(CatalogJob, job_id, with_for_update=True)
        if job is None or job.kind != "import" or job.status in ("succeeded", "failed"):
            return True
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        counts = {key: int(job.counts.get(key, 0)) for key in COUNT_KEYS}
        ctx = _Context(job_id, job.actor, job.dry_run, job.may_publish, await _channels(session), counts)
        key, fmt = job.file_key, job.format
    try:
        if key is None:
            raise FileFormatError("The job has no file.")
        done = counts["rows"]
        held: list[RawRow] = []
        # Pipelined: batch n+1 is parsed in a thread while batch n is written, so Python's parsing
        # overlaps PostgreSQL's work. Batches are still applied one after the other, in order.
        applying: asyncio.Task[None] | None = None

        async def apply(parsed: _Parsed) -> None:
            async with sessions() as session, session.begin():
                # A batch lost to a crash right after its commit is redone from the job's counts,
                # which commit with it, so waiting for the WAL flush buys nothing here.
                await session.execute(text("SET LOCAL synchronous_commit TO off"))
                await _apply(session, ctx, parsed)
            if on_progress is not None:
                on_progress(dict(ctx.counts))

        async for batch in _batches(storage, key, fmt, batch_size, ctx):
            rows, held = _product_boundary([*held, *(raw for raw in batch if raw.row > done)])
            if not rows:
                continue
            parsed = await asyncio.to_thread(_parse, rows)
            if applying is not None:
                await applying
                if deadline is not None and time.monotonic() > deadline:
                    return False
            applying = asyncio.create_task(apply(parsed))
        if applying is not None:
            await applying
        if held:
            await apply(_parse(held))
    except FileFormatError as exc:
        await _finish(sessions, job_id, "failed", str(exc))
        return True
    except FileNotFoundError:
        await _finish(sessions, job_id, "failed", "The uploaded file is missing from storage.")
        return True
    await _finish(sessions, job_id, "succeeded", None)
    if ctx.changed_any and on_catalog_changed is not None:
        await on_catalog_changed()
    return True


def _slug_of(raw: RawRow) -> Any:
    return None if raw.values is None else raw.values.get("product_slug")


def _product_boundary(rows: list[RawRow]) -> tuple[list[RawRow], list[RawRow]]:
    """Split off the trailing rows of the last product, to go with the next batch, so a product's
    rows (contiguous, as exported) are applied together: one revision, not one per batch."""
    if not rows:
        return [], []
    last = _slug_of(rows[-1])
    cut = len(rows)
    while cut > 0 and _slug_of(rows[cut - 1]) == last:
        cut -= 1
    if cut == 0:  # one product fills the batch
        return rows, []
    return rows[:cut], rows[cut:]


async def fail_job(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID, error: str) -> None:
    await _finish(sessions, job_id, "failed", error)


async def _finish(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID, status: str,
                  error: str | None) -> None:
    async with sessions() as session, session.begin():
        job = await session.get(CatalogJob, job_id, with_for_update=True)
        if job is not None:
            job.status, job.error, job.finished_at = status, error, utcnow()


async def _channels(session: AsyncSession) -> dict[str, ChannelRef]:
    page = await channels.list_channels(session, limit=100, cursor=None)
    return {c.code: ChannelRef(c.id, c.currency) for c in page.items}


async def _batches(storage: Storage, key: str, fmt: str, size: int, ctx: _Context) -> AsyncIterator[list[RawRow]]:
    chunks = storage.read(key)
    if fmt == "jsonl":
        async for batch in jsonl_batches(chunks, size):
            yield batch
        return
    rows = CsvRows(chunks)
    columns = await rows.read_header()
    priced = {c.split(".", 1)[1] for c in columns if c.startswith(("price.", "compare_at."))}
    unknown = sorted(priced - set(ctx.channels))
    if unknown:
        raise FileFormatError(f"Unknown channel(s) in the price columns: {', '.join(unknown)}.")
    async for batch in rows.batches(size):
        yield batch


# ---- one batch ---------------------------------------------------------------------------------

_REFS = """
SELECT 'brand', slug, id FROM brands WHERE slug = ANY(:brand)
UNION ALL SELECT 'category', slug, id FROM categories WHERE slug = ANY(:category)
UNION ALL SELECT 'product_type', slug, id FROM product_types WHERE slug = ANY(:product_type)
"""

_EXISTING = """
SELECT 's', v.sku, v.id, p.slug, p.id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = ANY(:skus)
UNION ALL SELECT 'p', p.slug, NULL, p.slug, p.id FROM products p WHERE p.slug = ANY(:slugs)
"""

_INCOMING_PRODUCTS = """
SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS i(
    id uuid, slug text, name text, description text, status text, brand_id uuid, category_id uuid,
    product_type_id uuid, tags text[], attributes jsonb)
"""

_UPDATE_PRODUCTS = f"""
WITH i AS ({_INCOMING_PRODUCTS})
UPDATE products p SET
    name = i.name, description = i.description, status = coalesce(i.status, p.status), brand_id = i.brand_id,
    category_id = i.category_id, product_type_id = i.product_type_id, tags = i.tags, attributes = i.attributes,
    published_at = CASE WHEN coalesce(i.status, p.status) = 'published' THEN coalesce(p.published_at, now())
                        ELSE p.published_at END,
    version = p.version + 1, updated_at = now()
FROM i
WHERE p.slug = i.slug
  AND (p.name, p.description, p.status, p.brand_id, p.category_id, p.product_type_id, CAST(p.tags AS text[]),
       p.attributes)
      IS DISTINCT FROM
      (i.name, i.description, coalesce(i.status, p.status), i.brand_id, i.category_id, i.product_type_id, i.tags,
       i.attributes)
RETURNING p.id, p.version
"""  # noqa: S608 - constant fragments; values are bound parameters

_INSERT_PRODUCTS = f"""
INSERT INTO products (id, slug, name, description, status, brand_id, category_id, product_type_id, tags, attributes,
                      published_at, rating_avg, rating_count, popularity, version)
SELECT i.id, i.slug, i.name, i.description, coalesce(i.status, 'draft'), i.brand_id, i.category_id,
       i.product_type_id, i.tags, i.attributes, CASE WHEN i.status = 'published' THEN now() END, 0, 0, 0, 1
FROM ({_INCOMING_PRODUCTS}) i
ON CONFLICT (slug) DO NOTHING
RETURNING id
"""  # noqa: S608 - constant fragments; values are bound parameters

_INCOMING_VARIANTS = """
SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS i(
    id uuid, product_id uuid, sku text, name text, options jsonb, gtin text, weight_grams int, tax_class text,
    track_inventory boolean, min_quantity int, max_quantity int, ord int, new boolean, fresh boolean)
"""

_UPDATE_VARIANTS = f"""
WITH i AS ({_INCOMING_VARIANTS})
UPDATE variants v SET
    name = i.name, options = i.options, gtin = i.gtin, weight_grams = i.weight_grams, tax_class = i.tax_class,
    track_inventory = i.track_inventory, min_quantity = i.min_quantity, max_quantity = i.max_quantity,
    updated_at = now()
FROM i
WHERE NOT i.new AND v.id = i.id
  AND (v.name, v.options, v.gtin, v.weight_grams, v.tax_class, v.track_inventory, v.min_quantity, v.max_quantity)
      IS DISTINCT FROM
      (i.name, i.options, i.gtin, i.weight_grams, i.tax_class, i.track_inventory, i.min_quantity, i.max_quantity)
RETURNING v.id
"""  # noqa: S608 - constant fragments; values are bound parameters

_INSERT_VARIANTS = f"""
INSERT INTO variants (id, product_id, sku, name, options, gtin, weight_grams, tax_class, track_inventory,
                      min_quantity, max_quantity, position)
SELECT i.id, i.product_id, i.sku, i.name, i.options, i.gtin, i.weight_grams, i.tax_class, i.track_inventory,
       i.min_quantity, i.max_quantity,
       CASE WHEN i.fresh THEN i.ord
            ELSE (SELECT coalesce(max(w.position) + 1, 0) FROM variants w WHERE w.product_id = i.product_id) + i.ord
       END
FROM ({_INCOMING_VARIANTS}) i
WHERE i.new
ON CONFLICT (sku) DO NOTHING
RETURNING id
"""  # noqa: S608 - constant fragments; values are bound parameters

# Only unscheduled (base) prices belong to the file; scheduled ones are left alone. The batch's
# current base prices are read by variant id (index), compared here, and only the differences are
# written by primary key: anti-joins against the incoming rows made the planner scan the table.
_BASE_PRICES = """
SELECT id, variant_id, channel_id, amount, currency, compare_at_amount FROM variant_prices
WHERE variant_id = ANY(:variants) AND valid_from IS NULL AND valid_to IS NULL
ORDER BY id
"""

_DELETE_PRICES = "DELETE FROM variant_prices WHERE id = ANY(:ids)"

_UPDATE_PRICES = """
UPDATE variant_prices vp SET amount = i.amount, currency = i.currency, compare_at_amount = i.compare_at_amount
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS i(id uuid, amount bigint, currency text, compare_at_amount bigint)
WHERE vp.id = i.id
"""

_INSERT_PRICES = """
INSERT INTO variant_prices (id, variant_id, channel_id, amount, currency, compare_at_amount)
SELECT i.id, i.variant_id, i.channel_id, i.amount, i.currency, i.compare_at_amount
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS i(
    id uuid, variant_id uuid, channel_id uuid, amount bigint, currency text, compare_at_amount bigint)
"""

_BUMP = """
UPDATE products SET version = version + 1, updated_at = now() WHERE id = ANY(:ids) RETURNING id, version
"""


def _json(rows: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=str).decode()  # default: asyncpg's own UUID type


@dataclass(frozen=True)
class _Parsed:
    last_row: int
    records: list[Record]
    errors: list[RowError]


def _parse(batch: list[RawRow]) -> _Parsed:
    """The pure part of a batch (no I/O; runs in a thread)."""
    errors: list[RowError] = []
    records: list[Record] = []
    for raw in batch:
        if raw.values is None:
            errors.append(RowError(raw.row, raw.field, raw.error or "Unreadable row."))
            continue
        record, row_errors = parse_row(raw.values, raw.row)
        if record is None:
            errors.extend(row_errors)
        else:
            records.append(record)
    return _Parsed(batch[-1].row, records, errors)


async def _apply(session: AsyncSession, ctx: _Context, parsed: _Parsed) -> None:
    errors = list(parsed.errors)
    records = parsed.records
    await _resolve_refs(session, ctx, records)
    existing_variants, existing_products = await _existing(session, records)
    good: list[tuple[Record, dict[str, Any]]] = []
    for record in records:
        checked, row_errors = await _check(session, ctx, record, existing_variants)
        if checked is None:
            errors.extend(row_errors)
        else:
            good.append(checked)
    if ctx.dry_run:
        savepoint = await session.begin_nested()
        await _write(session, ctx, good, existing_variants, existing_products)
        await savepoint.rollback()
    else:
        await _write(session, ctx, good, existing_variants, existing_products)
    ctx.counts["rows"] = parsed.last_row
    ctx.counts["failed"] += len({e.row for e in errors})
    if errors:
        errors.sort(key=lambda e: e.row)  # stable: a row's errors keep their order
        await session.execute(insert(CatalogJobError), [
            {"job_id": ctx.job_id, "row": e.row, "field": e.field[:100], "message": e.message} for e in errors
        ])
    job = await session.get(CatalogJob, ctx.job_id)
    if job is not None:
        job.counts = dict(ctx.counts)


async def _resolve_refs(session: AsyncSession, ctx: _Context, records: list[Record]) -> None:
    wanted: dict[str, set[str]] = {"brand": set(), "category": set(), "product_type": set()}
    for record in records:
        for kind in wanted:
            slug = getattr(record.product, kind)
            if slug is not None and (kind, slug) not in ctx.refs:
                wanted[kind].add(slug)
    if not any(wanted.values()):
        return
    found = {(kind, slug): ref_id for kind, slug, ref_id in
             await session.execute(text(_REFS), {k: sorted(v) for k, v in wanted.items()})}
    for kind, slugs in wanted.items():
        for slug in slugs:
            ctx.refs[(kind, slug)] = found.get((kind, slug))
    for slug in wanted["product_type"]:
        type_id = ctx.refs[("product_type", slug)]
        if type_id is not None and type_id not in ctx.type_defs:
            ctx.type_defs[type_id] = await definitions_for(session, type_id)


async def _existing(session: AsyncSession, records: list[Record]
                    ) -> tuple[dict[str, tuple[uuid.UUID, str]], dict[str, uuid.UUID]]:
    """Variants by SKU -> (variant id, product slug); products by slug -> id."""
    if not records:
        return {}, {}
    result = await session.execute(text(_EXISTING), {
        "skus": [r.variant.sku for r in records], "slugs": sorted({r.product.slug for r in records}),
    })
    variants: dict[str, tuple[uuid.UUID, str]] = {}
    products: dict[str, uuid.UUID] = {}
    for kind, key, variant_id, slug, product_id in result:
        if kind == "s":
            variants[key] = (variant_id, slug)
        else:
            products[key] = product_id
    return variants, products


async def _check(
    session: AsyncSession, ctx: _Context, record: Record, existing: dict[str, tuple[uuid.UUID, str]]
) -> tuple[tuple[Record, dict[str, Any]] | None, list[RowError]]:
    """Database-dependent checks of a parsed row; the record with normalised attributes and its
    resolved ids, or the row's errors."""
    p, row = record.product, record.row
    errors: list[RowError] = []
    ids: dict[str, Any] = {}
    for kind, label in (("brand", "brand"), ("category", "category"), ("product_type", "product type")):
        slug = getattr(p, kind)
        ids[f"{kind}_id"] = None if slug is None else ctx.refs.get((kind, slug))
        if slug is not None and ids[f"{kind}_id"] is None:
            errors.append(RowError(row, kind, f"There is no {label} {slug!r}."))
    if p.status == "published" and not ctx.may_publish:
        errors.append(RowError(row, "status", "Publishing needs the catalog:publish permission; import the "
                                              "product as a draft and have a catalogue manager publish it."))
    for channel in record.variant.prices:
        if channel not in ctx.channels:
            errors.append(RowError(row, f"price.{channel}", f"There is no channel {channel!r}."))
    if ids["product_type_id"] is not None or p.product_type is None:
        defs = ctx.type_defs.get(ids["product_type_id"], []) if ids["product_type_id"] else []
        checked, attribute_errors = check_attributes(record, defs)
        errors.extend(attribute_errors)
        if checked is not None:
            record = checked
    owner = existing.get(record.variant.sku)
    if owner is not None and owner[1] != p.slug:
        errors.append(RowError(row, "sku", f"{record.variant.sku!r} belongs to another product ({owner[1]!r})."))
    if errors:
        return None, errors
    seen_sku = ctx.skus.get(record.variant.sku)
    if seen_sku is not None:
        other_slug, other_row = seen_sku
        message = (f"Duplicate of row {other_row}." if other_slug == p.slug
                   else f"Also in row {other_row}, for product {other_slug!r}.")
        return None, [RowError(row, "sku", message)]
    fingerprint = _fingerprint(record, ids)
    seen_product = ctx.products.get(p.slug)
    if seen_product is not None and seen_product[0] != fingerprint:
        differing = next(name for name, a, b in zip(_PRODUCT_FIELDS, seen_product[0], fingerprint, strict=True)
                         if a != b)
        return None, [RowError(row, differing, f"Conflicts with row {seen_product[1]} of product {p.slug!r}.")]
    ctx.skus.put(record.variant.sku, p.slug, row)
    if seen_product is None:
        ctx.products.put(p.slug, fingerprint, row)
    return (record, ids), []


_PRODUCT_FIELDS = ("product_name", "description", "status", "brand", "category", "product_type", "tags", "attr")


def _fingerprint(record: Record, ids: dict[str, Any]) -> tuple[Any, ...]:
    p = record.product
    return (p.name, p.description, p.status, ids["brand_id"], ids["category_id"], ids["product_type_id"], p.tags,
            orjson.dumps(p.attributes, option=orjson.OPT_SORT_KEYS))


# First revisions of the products a batch created, in one statement: the snapshot is the one
# revisions.record stores (same SQL), and a creation's changes are, as rules.diff(None, snapshot)
# gives them, every non-null field from null. Doing this in the database instead of through
# revisions.record halves the time of a first import (no snapshot round trip through Python).
_RECORD_CREATED = f"""
INSERT INTO product_revisions (id, product_id, version, action, actor, comment, snapshot, changes)
SELECT r.revision_id, s.id, 1, 'import', :actor, :comment, s.snapshot,
       (SELECT coalesce(jsonb_object_agg(e.key, jsonb_build_object('from', NULL, 'to', e.value)), '{{}}'::jsonb)
        FROM jsonb_each(s.snapshot) e WHERE e.value <> 'null'::jsonb)
FROM ({revisions.SNAPSHOTS_SQL}) s
JOIN unnest(CAST(:ids AS uuid[]), CAST(:revision_ids AS uuid[])) AS r(product_id, revision_id) ON r.product_id = s.id
"""  # noqa: S608 - constant SQL; values are bound parameters


async def _record_created(session: AsyncSession, product_ids: list[uuid.UUID], *, actor: str, comment: str) -> None:
    await session.execute(text(_RECORD_CREATED), {
        "ids": product_ids, "revision_ids": [new_id() for _ in product_ids], "actor": actor, "comment": comment,
    })


async def _write_prices(session: AsyncSession, variant_rows: list[dict[str, Any]],
                        price_rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Make the batch's base prices those of the file; returns the variants whose prices changed."""
    existing_ids = [row["id"] for row in variant_rows if not row["new"]]
    current: dict[tuple[uuid.UUID, uuid.UUID], list[Any]] = {}
    if existing_ids:
        for row in await session.execute(text(_BASE_PRICES), {"variants": existing_ids}):
            current.setdefault((row[1], row[2]), []).append(row)
    changed: set[uuid.UUID] = set()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for price in price_rows:
        rows = current.pop((price["variant_id"], price["channel_id"]), None)
        if not rows:
            inserts.append(price)
            changed.add(price["variant_id"])
            continue
        wanted = (price["amount"], price["currency"], price["compare_at_amount"])
        for row in rows:
            if (row[3], row[4], row[5]) != wanted:
                updates.append({"id": row[0], "amount": wanted[0], "currency": wanted[1],
                                "compare_at_amount": wanted[2]})
                changed.add(price["variant_id"])
    deletes = [row[0] for rows in current.values() for row in rows]
    changed.update(row[1] for rows in current.values() for row in rows)
    if deletes:
        await session.execute(text(_DELETE_PRICES), {"ids": deletes})
    if updates:
        await session.execute(text(_UPDATE_PRICES), {"rows": _json(updates)})
    if inserts:
        await session.execute(text(_INSERT_PRICES), {"rows": _json(inserts)})
    return changed


async def _write(
    session: AsyncSession,
    ctx: _Context,
    good: list[tuple[Record, dict[str, Any]]],
    existing_variants: dict[str, tuple[uuid.UUID, str]],
    existing_products: dict[str, uuid.UUID],
) -> None:
    if not good:
        return
    product_rows: dict[str, dict[str, Any]] = {}
    for record, ids in good:
        p = record.product
        if p.slug not in product_rows:
            product_rows[p.slug] = {
                "id": existing_products.get(p.slug) or new_id(), "slug": p.slug, "name": p.name,
                "description": p.description, "status": p.status, **ids, "tags": list(p.tags),
                "attributes": p.attributes,
            }
    payload = _json(list(product_rows.values()))
    updated_products = {pid: version for pid, version in
                        await session.execute(text(_UPDATE_PRODUCTS), {"rows": payload})}
    new_rows = [row for slug, row in product_rows.items() if slug not in existing_products]
    created_products = set()
    if new_rows:
        created_products = set((await session.execute(text(_INSERT_PRODUCTS), {"rows": _json(new_rows)})).scalars())
    product_ids = {slug: row["id"] for slug, row in product_rows.items()}

    variant_rows: list[dict[str, Any]] = []
    price_rows: list[dict[str, Any]] = []
    ordinals: dict[str, int] = {}
    for record, _ in good:
        v = record.variant
        known = existing_variants.get(v.sku)
        slug = record.product.slug
        ordinal = ordinals.get(slug, 0)
        if known is None:
            ordinals[slug] = ordinal + 1
        variant_id = known[0] if known else new_id()
        variant_rows.append({
            "id": variant_id, "product_id": product_ids[slug], "sku": v.sku, "name": v.name, "options": v.options,
            "gtin": v.gtin, "weight_grams": v.weight_grams, "tax_class": v.tax_class,
            "track_inventory": v.track_inventory, "min_quantity": v.min_quantity, "max_quantity": v.max_quantity,
            "ord": ordinal, "new": known is None, "fresh": product_ids[slug] in created_products,
        })
        for channel, (amount, compare_at) in v.prices.items():
            ref = ctx.channels[channel]
            price_rows.append({"id": new_id(), "variant_id": variant_id, "channel_id": ref.id, "amount": amount,
                               "currency": ref.currency, "compare_at_amount": compare_at})
    variants_payload = _json(variant_rows)
    changed_variants = set((await session.execute(text(_UPDATE_VARIANTS), {"rows": variants_payload})).scalars())
    created_variants = set((await session.execute(text(_INSERT_VARIANTS), {"rows": variants_payload})).scalars())
    changed_variants.update(await _write_prices(session, variant_rows, price_rows))

    product_of = {row["id"]: row["product_id"] for row in variant_rows}
    touched = {product_of[vid] for vid in changed_variants | created_variants}
    to_bump = sorted(touched - set(updated_products) - created_products)
    versions: dict[uuid.UUID, int] = dict(updated_products)
    if to_bump:
        versions.update({pid: version for pid, version in await session.execute(text(_BUMP), {"ids": to_bump})})
    versions.update({pid: 1 for pid in created_products})
    if versions:
        comment = f"import job {ctx.job_id}"
        updated = {pid: version for pid, version in versions.items() if pid not in created_products}
        if updated:
            await revisions.record(session, updated, action="import", actor=ctx.actor, comment=comment)
        if created_products:
            await _record_created(session, sorted(created_products), actor=ctx.actor, comment=comment)
        # A new draft has no listing to build or remove.
        drafts = {row["id"] for row in product_rows.values() if row["status"] != "published"}
        listed = sorted(set(versions) - (created_products & drafts))
        if listed:
            await listing.refresh(session, listed)
        ctx.changed_any = True

    changed_products = set(versions)
    for row in variant_rows:
        if row["id"] in created_variants:
            ctx.counts["created"] += 1
        elif row["id"] in changed_variants or row["product_id"] in updated_products:
            ctx.counts["updated"] += 1
        else:
            ctx.counts["unchanged"] += 1
    ctx.counts["products_created"] += len(created_products)
    ctx.counts["products_updated"] += len(changed_products - created_products)
