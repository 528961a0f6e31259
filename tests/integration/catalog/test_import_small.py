"""Import: the basics on small files, in the per-test transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.storage import LocalStorage
from mercato.modules.catalog import catalog_jobs, importer
from mercato.modules.catalog.models import CatalogJob, CatalogJobError
from tests.integration.catalog.import_factories import checksum, csv_bytes, generate_rows, make_taxonomy


async def _run(session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], storage: LocalStorage,
               data: bytes, *, fmt: str = "csv", dry_run: bool = False) -> CatalogJob:
    async def chunks():  # type: ignore[no-untyped-def]
        yield data

    job = await catalog_jobs.create_import(session, storage, chunks(), fmt=fmt, dry_run=dry_run, actor="staff:test",
                                           may_publish=True)
    await session.commit()
    assert await importer.run_import(sessionmaker, job.id, storage, batch_size=100)
    await session.refresh(job)
    return job


async def test_small_import_reports_bad_rows_and_rerun_changes_nothing(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await make_taxonomy(session)
    await session.commit()
    storage = LocalStorage(tmp_path, "/media")
    rows, expected = generate_rows(2000, bad_every=100)
    data = csv_bytes(rows)
    job = await _run(session, sessionmaker, storage, data)
    assert job.status == "succeeded", job.error
    errors = (await session.execute(select(CatalogJobError).where(CatalogJobError.job_id == job.id)
                                    .order_by(CatalogJobError.id))).scalars().all()
    assert {(e.row, e.field) for e in errors} == set(expected.bad.items()), [(e.row, e.message) for e in errors]
    assert job.counts["failed"] == len(expected.bad)
    assert job.counts["created"] == expected.good_rows
    assert (await session.scalar(text("SELECT count(*) FROM variants"))) == expected.good_rows
    before = await checksum(session)
    again = await _run(session, sessionmaker, storage, data)
    assert (again.counts["created"], again.counts["updated"]) == (0, 0), again.counts
    assert again.counts["unchanged"] == expected.good_rows
    assert await checksum(session) == before


async def test_a_stopped_job_resumes_where_its_committed_counts_say(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await make_taxonomy(session)
    await session.commit()
    storage = LocalStorage(tmp_path, "/media")
    rows, expected = generate_rows(1000, bad_every=100)

    async def chunks():  # type: ignore[no-untyped-def]
        yield csv_bytes(rows)

    job = await catalog_jobs.create_import(session, storage, chunks(), fmt="csv", dry_run=False, actor="staff:t",
                                           may_publish=True)
    await session.commit()
    # A time budget already spent: the run stops after a batch or two, as the worker's handler does.
    assert not await importer.run_import(sessionmaker, job.id, storage, batch_size=100, deadline=0)
    await session.refresh(job)
    assert job.status == "running"
    assert 0 < job.counts["rows"] < 1000
    assert await importer.run_import(sessionmaker, job.id, storage, batch_size=100)
    await session.refresh(job)
    assert job.status == "succeeded"
    assert job.counts["rows"] == 1000
    assert job.counts["created"] == expected.good_rows
    assert job.counts["failed"] == len(expected.bad)
    errors = (await session.execute(select(CatalogJobError.row).where(CatalogJobError.job_id == job.id))).scalars()
    assert sorted(errors) == sorted(expected.bad)
    assert (await session.scalar(text("SELECT count(*) FROM variants"))) == expected.good_rows
