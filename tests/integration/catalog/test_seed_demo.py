"""The demo store's catalogue (`mercato seed --demo`) on a fresh, really committed database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.kit.storage import LocalStorage
from mercato.modules import catalog, channels
from mercato.modules.catalog import catalog_jobs, exporter, importer
from mercato.modules.catalog import seed as demo
from mercato.modules.catalog.models import CatalogJob
from tests.fixtures.databases import TestDatabases


def test_the_demo_data_sets_are_present() -> None:
    # They sit in ../shared/data beside every checkout here (CI included): absent is a failure.
    assert catalog.demo_data_available(), f"demo data not found in {catalog.demo_data_dir()}"

CHANNELS = ("web-eu", "web-us", "web-gb")


@pytest.fixture(scope="module")
async def seeded(settings: Settings, databases: TestDatabases) -> AsyncIterator[tuple[Database, int]]:
    """One committed database with the demo catalogue, shared by this module's (read-only) tests."""
    name = f"p_{uuid.uuid4().hex[:12]}"
    db = Database.connect(databases.create(name), settings, pool_size=1, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            await channels.seed_base(session)
            added = await catalog.seed_demo(session)
        yield db, added
    finally:
        await db.dispose()
        databases.drop(name)


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def test_demo_catalogue(seeded: tuple[Database, int]) -> None:
    db, added = seeded
    assert added > 0
    products = await scalar(db, "SELECT count(*) FROM products WHERE status = 'published'")
    assert products >= 500
    assert await scalar(db, "SELECT count(*) FROM products") == products
    assert await scalar(db, "SELECT count(*) FROM products p WHERE NOT EXISTS "
                            "(SELECT 1 FROM variants v WHERE v.product_id = p.id)") == 0
    # Every variant is priced in each channel, in the channel's currency, in positive integer minor units.
    assert await scalar(db, """
        SELECT count(*) FROM variants v CROSS JOIN channels c
        WHERE c.code = ANY(:codes) AND NOT EXISTS (
            SELECT 1 FROM variant_prices vp
            WHERE vp.variant_id = v.id AND vp.channel_id = c.id AND vp.currency = c.currency AND vp.amount > 0)
    """, codes=list(CHANNELS)) == 0
    variants = await scalar(db, "SELECT count(*) FROM variants")
    assert await scalar(db, "SELECT count(*) FROM variant_prices") == 3 * variants
    amounts = await scalar(db, "SELECT array_agg(amount) FROM (SELECT amount FROM variant_prices LIMIT 50) s")
    assert all(type(amount) is int for amount in amounts)
    # Some products have size and/or colour variants; their skus extend the stock code.
    assert await scalar(db, "SELECT count(*) FROM variants WHERE options ? 'size'") >= 4
    assert await scalar(db, "SELECT count(*) FROM variants WHERE options ? 'colour'") >= 3
    assert await scalar(db, "SELECT count(*) FROM variants v JOIN products p ON p.id = v.product_id "
                            "WHERE v.sku NOT LIKE (p.attributes->>'stock_code') || '%'") == 0
    # Not inventory-tracked yet, no images, unrated; popularity from the invoice lines.
    assert await scalar(db, "SELECT bool_and(NOT track_inventory) FROM variants")
    assert await scalar(db, "SELECT count(*) FROM product_media") == 0
    assert await scalar(db, "SELECT max(rating_avg) FROM products") == 0
    assert await scalar(db, "SELECT count(*) FROM products WHERE popularity > 100") > 100


async def test_demo_products_come_from_the_data(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    async with db.sessionmaker() as session:
        row = (await session.execute(text("""
            SELECT p.name, p.slug, p.popularity, p.published_at, c.name AS category,
                   jsonb_object_agg(ch.code, vp.amount) AS prices
            FROM products p
            JOIN categories c ON c.id = p.category_id
            JOIN variants v ON v.product_id = p.id
            JOIN variant_prices vp ON vp.variant_id = v.id
            JOIN channels ch ON ch.id = vp.channel_id
            WHERE v.sku = '85123A'
            GROUP BY p.id, c.name
        """))).one()
    assert row.name == "White Hanging Heart T-Light Holder"
    assert row.slug == "white-hanging-heart-t-light-holder"
    assert row.popularity > 1000  # the data set's best seller
    assert row.published_at.isoformat() == "2010-12-01T08:26:00+00:00"
    assert row.category == "Flashlights & Portable Lights"
    # GBP 2.95 is the median unit price; EUR and USD at the fixed rates, to the nearest .99.
    assert row.prices == {"web-gb": 295, "web-eu": 299, "web-us": 499}


async def test_categories_form_a_consistent_tree(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    assert await scalar(db, "SELECT count(*) FROM categories") > 1000
    assert await scalar(db, "SELECT max(depth) FROM categories") >= 2
    assert await scalar(db, "SELECT count(*) FROM categories WHERE external_ref IS NULL") == 0
    assert await scalar(db, "SELECT count(*) FROM categories WHERE parent_id IS NULL "
                            "AND (path <> id::text OR depth <> 0)") == 0
    assert await scalar(db, """
        SELECT count(*) FROM categories c JOIN categories parent ON parent.id = c.parent_id
        WHERE c.path <> parent.path || '/' || c.id::text OR c.depth <> parent.depth + 1
    """) == 0
    assert await scalar(db, "SELECT count(*) FROM categories c WHERE c.parent_id IS NOT NULL "
                            "AND NOT EXISTS (SELECT 1 FROM categories p WHERE p.id = c.parent_id)") == 0
    assert await scalar(db, "SELECT count(*) FROM categories WHERE slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$'") == 0
    # Roots get the plain slug of their name; products sit in leaves.
    assert await scalar(db, "SELECT slug FROM categories WHERE external_ref = 'abcat0200000'") == "audio"
    assert await scalar(db, """
        SELECT count(*) FROM products p
        WHERE p.category_id IS NULL OR EXISTS (SELECT 1 FROM categories c WHERE c.parent_id = p.category_id)
    """) == 0
    assert await scalar(db, "SELECT count(DISTINCT category_id) FROM products") >= 20


async def test_listings_one_row_per_product_and_channel_at_the_lowest_price(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    products = await scalar(db, "SELECT count(*) FROM products")
    assert await scalar(db, "SELECT count(*) FROM product_listings") == products * len(CHANNELS)
    assert await scalar(db, "SELECT count(DISTINCT (product_id, channel_id)) FROM product_listings") == products * 3
    assert await scalar(db, """
        SELECT count(*) FROM product_listings l
        WHERE l.min_price <> (SELECT min(vp.amount) FROM variants v JOIN variant_prices vp ON vp.variant_id = v.id
                              WHERE v.product_id = l.product_id AND vp.channel_id = l.channel_id)
           OR l.currency <> (SELECT currency FROM channels WHERE id = l.channel_id)
           OR NOT l.in_stock
    """) == 0
    assert await scalar(db, "SELECT count(*) FROM product_listings l JOIN products p ON p.id = l.product_id "
                            "JOIN categories c ON c.id = p.category_id WHERE l.category_path <> c.path") == 0


async def test_a_second_seed_adds_nothing_and_asks_one_question(seeded: tuple[Database, int]) -> None:
    db, _ = seeded
    tables = ("categories", "products", "variants", "variant_prices", "product_listings")
    before = [await scalar(db, f"SELECT count(*) FROM {table}") for table in tables]
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.sessionmaker() as session, session.begin():
            assert await catalog.seed_demo(session) == 0
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements  # one EXISTS; the data files are not even read
    assert [await scalar(db, f"SELECT count(*) FROM {table}") for table in tables] == before


def test_the_catalogue_is_deterministic() -> None:
    directory = catalog.demo_data_dir()
    demo.load_items.cache_clear()
    demo.load_category_tree.cache_clear()
    first = demo.load_items(directory / demo.RETAIL_FILE), demo.load_category_tree(directory / demo.CATEGORIES_FILE)
    demo.load_items.cache_clear()
    demo.load_category_tree.cache_clear()
    second = demo.load_items(directory / demo.RETAIL_FILE), demo.load_category_tree(directory / demo.CATEGORIES_FILE)
    assert first == second
    items, tree = first
    assert len(items) >= 3000
    assert len({item.stock_code for item in items}) == len(items)
    assert all(item.price_gbp > 0 and item.name for item in items)
    refs = {node.ref for node in tree}
    assert len(refs) == len(tree)
    assert all(node.parent_ref is None or node.parent_ref in refs for node in tree)
    parents = {node.parent_ref for node in tree}
    leaves = frozenset(ref for ref in refs if ref not in parents)
    assert all(ref in leaves for _, ref in demo.CATEGORY_RULES), "every keyword rule names a leaf"
    assert demo.DEFAULT_CATEGORY in leaves


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("3.39", "EUR", 299), ("3.60", "EUR", 399), ("0.42", "USD", 39), ("0.046", "EUR", 9), ("164.99", "USD", 16499),
    ("1.00", "EUR", 99),
])
def test_charm_prices(amount: str, currency: str, expected: int) -> None:
    assert demo.charm_price(Decimal(amount), currency) == expected


def test_price_conversion_and_names() -> None:
    assert demo.price_in(295, "GBP") == 295
    assert demo.price_in(295, "EUR") == 299  # 2.95 * 1.15 = 3.39
    assert demo.price_in(295, "USD") == 499  # 2.95 * 1.60 = 4.72
    assert demo.title_case("DOLLY'S  T-LIGHT HOLDER") == "Dolly's T-Light Holder"
    assert demo.slugify("TV & Home Theater") == "tv-home-theater"
    assert demo.slugify("Crème Brûlée!") == "creme-brulee"
    taken = {"audio"}
    assert demo.claim_slug("audio", taken, "brands-audio") == "brands-audio"
    assert demo.claim_slug("audio", taken, "brands-audio") == "audio-2"


async def test_the_demo_goes_into_an_empty_catalogue_only(session: AsyncSession) -> None:
    await channels.seed_base(session)
    await session.execute(text("INSERT INTO products (id, slug, name, description, status, tags, published_at, "
                               "rating_avg, rating_count, popularity, version) VALUES (:id, 'our-own', 'Our own', '', "
                               "'published', '{}', now(), 0, 0, 0, 1)"), {"id": uuid.uuid4()})
    assert await catalog.seed_demo(session) == 0
    assert await session.scalar(text("SELECT count(*) FROM products")) == 1


async def test_an_export_of_the_demo_store_imports_back_without_an_error(
    seeded: tuple[Database, int], tmp_path: Path
) -> None:
    """The demo data is well-formed catalogue data: its export passes the importer's checks and
    changes nothing (a dry run, so this module's shared database stays as it is)."""
    db, _ = seeded
    storage = LocalStorage(tmp_path, "/media")
    async with db.sessionmaker() as session, session.begin():
        export_id = (await catalog_jobs.create_export(session, fmt="csv", actor="staff:test")).id
    await exporter.run_export(db.sessionmaker, export_id, storage)
    async with db.sessionmaker() as session:
        export = await session.get(CatalogJob, export_id)
    assert export is not None
    assert export.file_key is not None
    data = await storage.get(export.file_key)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    async with db.sessionmaker() as session, session.begin():
        job = await catalog_jobs.create_import(session, storage, chunks(), fmt="csv", dry_run=True,
                                               actor="staff:test", may_publish=True)
        import_id = job.id
    assert await importer.run_import(db.sessionmaker, import_id, storage)
    async with db.sessionmaker() as session:
        done = await session.get(CatalogJob, import_id)
    assert done is not None
    assert done.status == "succeeded", done.error
    variants = await scalar(db, "SELECT count(*) FROM variants")
    assert done.counts["rows"] == variants
    assert (done.counts["failed"], done.counts["created"], done.counts["updated"]) == (0, 0, 0)
