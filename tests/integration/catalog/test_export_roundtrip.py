"""Export → import into an empty catalogue reproduces it (JSON Lines and CSV); dry runs write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.storage import LocalStorage
from mercato.modules.catalog import catalog_jobs, exporter, importer
from mercato.modules.catalog.models import CatalogJob
from tests.integration.catalog.import_factories import checksum, content, csv_bytes, generate_rows, make_taxonomy


async def _import(session: AsyncSession, sessions: async_sessionmaker[AsyncSession], storage: LocalStorage,
                  data: bytes, fmt: str, *, dry_run: bool = False) -> CatalogJob:
    async def chunks():  # type: ignore[no-untyped-def]
        yield data

    job = await catalog_jobs.create_import(session, storage, chunks(), fmt=fmt, dry_run=dry_run, actor="staff:t",
                                           may_publish=True)
    await session.commit()
    assert await importer.run_import(sessions, job.id, storage, batch_size=50)
    await session.refresh(job)
    assert job.status == "succeeded", job.error
    return job


async def _export(session: AsyncSession, sessions: async_sessionmaker[AsyncSession], storage: LocalStorage,
                  fmt: str) -> bytes:
    job = await catalog_jobs.create_export(session, fmt=fmt, actor="staff:t")
    await session.commit()
    await exporter.run_export(sessions, job.id, storage)
    await session.refresh(job)
    assert job.status == "succeeded"
    assert job.file_key is not None
    return await storage.get(job.file_key)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_reimported_into_an_empty_catalogue_is_the_same(
    fmt: str, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await make_taxonomy(session)
    await session.commit()
    storage = LocalStorage(tmp_path, "/media")
    rows, expected = generate_rows(400, bad_every=10_000)
    # Awkward values survive: quotes, commas, newlines, HTML, unicode, a number with the default unit.
    rows[0].update({"product_name": 'Mug "Big", blue', "description": "<p>Line one\nline two, ü</p>",
                    "attr.width": "12.5"})
    await _import(session, sessionmaker, storage, csv_bytes(rows), "csv")
    original = await content(session)
    assert len(original) == expected.good_rows

    exported = await _export(session, sessionmaker, storage, fmt)
    for table in ("product_listings", "product_revisions", "products"):
        await session.execute(text(f"DELETE FROM {table}"))
    await session.commit()
    assert await session.scalar(text("SELECT count(*) FROM variants")) == 0

    job = await _import(session, sessionmaker, storage, exported, fmt)
    assert job.counts["failed"] == 0
    assert job.counts["created"] == expected.good_rows
    assert await content(session) == original
    # And the same file again changes nothing.
    before = await checksum(session)
    again = await _import(session, sessionmaker, storage, exported, fmt)
    assert again.counts["unchanged"] == expected.good_rows
    assert await checksum(session) == before


async def test_dry_run_counts_but_writes_nothing(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await make_taxonomy(session)
    await session.commit()
    storage = LocalStorage(tmp_path, "/media")
    rows, expected = generate_rows(300, bad_every=50)
    before = await checksum(session)
    job = await _import(session, sessionmaker, storage, csv_bytes(rows), "csv", dry_run=True)
    assert (job.counts["created"], job.counts["failed"]) == (expected.good_rows, len(expected.bad)), job.counts
    assert await checksum(session) == before
    errors = await session.scalar(text("SELECT count(*) FROM catalog_job_errors WHERE job_id = :j"), {"j": job.id})
    assert errors == len(expected.bad)

    # Against a populated catalogue, a dry run of a changed file counts updates and still changes nothing.
    await _import(session, sessionmaker, storage, csv_bytes(rows), "csv")
    for row in rows[:10]:
        row["price.web-eu"] = "1"
    before = await checksum(session)
    job = await _import(session, sessionmaker, storage, csv_bytes(rows), "csv", dry_run=True)
    assert job.counts["created"] == 0
    assert job.counts["updated"] == 10
    assert await checksum(session) == before


async def test_a_row_never_half_applies_and_conflicts_are_reported(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await make_taxonomy(session)
    await session.commit()
    storage = LocalStorage(tmp_path, "/media")
    base = {"product_slug": "lamp", "product_name": "Lamp", "product_type": "homeware", "attr.material": "metal",
            "sku": "L-1", "price.web-eu": "1000"}
    lines = [
        base,
        {**base, "sku": "L-2", "product_name": "Lamp II"},  # disagrees with row 1 on the product
        {**base, "sku": "L-3", "price.web-eu": "-5"},  # bad price: the variant is not created at all
        {**base, "sku": "L-4", "compare_at.web-eu": "900", "price.web-eu": ""},
    ]
    columns = ["product_slug", "product_name", "product_type", "attr.material", "sku", "price.web-eu",
               "compare_at.web-eu"]
    job = await _import(session, sessionmaker, storage, csv_bytes(lines, columns), "csv")
    errors = (await session.execute(text("SELECT row, field FROM catalog_job_errors WHERE job_id = :j ORDER BY id"),
                                    {"j": job.id})).all()
    assert [tuple(e) for e in errors] == [(2, "product_name"), (3, "price.web-eu"), (4, "compare_at.web-eu")]
    skus = (await session.execute(text("SELECT sku FROM variants ORDER BY sku"))).scalars().all()
    assert skus == ["L-1"]


async def test_created_products_get_the_revision_revisions_record_would_store(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    from mercato.modules.catalog import revisions, rules

    await make_taxonomy(session)
    await session.commit()
    rows, _ = generate_rows(30, bad_every=10_000)
    await _import(session, sessionmaker, LocalStorage(tmp_path, "/media"), csv_bytes(rows), "csv")
    stored = (await session.execute(text(
        "SELECT product_id, version, action, actor, snapshot, changes FROM product_revisions"))).all()
    current = await revisions.snapshots(session, [row[0] for row in stored])
    assert len(stored) == len(current) > 0
    for product_id, version, action, actor, snapshot, changes in stored:
        assert (version, action, actor) == (1, "import", "staff:t")
        assert snapshot == current[product_id]
        assert changes == rules.diff(None, current[product_id])
