"""Worker side of import/export jobs.

The dispatcher runs a handler inside its batch transaction with a 60 s timeout, which a large
import does not fit. So the handler runs the job in transactions of its own (one per batch of rows,
on sessions from the same engine) for at most `TIME_BUDGET_S`, and when rows remain it emits the
event again, in the dispatcher's transaction, to continue later from the job's committed
position. A worker that dies mid-job loses only the uncommitted batch: the event is redelivered
and the job resumes where its counts say. Unexpected errors are retried by the outbox; the last
attempt marks the job failed.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import process_cache
from mercato.kit.outbox import DeliveredEvent, emit, on
from mercato.kit.settings import load_settings
from mercato.kit.storage import build_storage
from mercato.modules.catalog import exporter, importer
from mercato.modules.catalog.detail_cache import invalidate_catalog
from mercato.modules.catalog.jobs_events import ImportRequested

TIME_BUDGET_S = 40.0


def job_sessions(session: AsyncSession) -> async_sessionmaker[AsyncSession]:
    """Sessions with their own transactions next to the dispatcher's (savepoints when the session
    is bound to one connection, as in tests)."""
    return async_sessionmaker(bind=session.bind, expire_on_commit=False, autoflush=False,
                              join_transaction_mode="create_savepoint")


async def _invalidate() -> None:
    cache = process_cache(load_settings())
    try:
        await invalidate_catalog(cache)
    finally:
        await cache.close()


@on(ImportRequested.name)
async def run_import_job(session: AsyncSession, event: DeliveredEvent) -> None:
    job_id = uuid.UUID(str(event.payload["job_id"]))
    settings = load_settings()
    sessions = job_sessions(session)
    try:
        finished = await importer.run_import(
            sessions, job_id, build_storage(settings), deadline=time.monotonic() + TIME_BUDGET_S,
            on_catalog_changed=_invalidate,
        )
    except Exception as exc:
        if event.attempt >= settings.outbox_max_attempts:
            await importer.fail_job(sessions, job_id, f"The import stopped on an internal error: {exc!r}"[:2000])
            return
        raise
    if not finished:
        await emit(session, ImportRequested(job_id=str(job_id)))


@on("catalog.export_requested")
async def run_export_job(session: AsyncSession, event: DeliveredEvent) -> None:
    job_id = uuid.UUID(str(event.payload["job_id"]))
    settings = load_settings()
    sessions = job_sessions(session)
    try:
        await exporter.run_export(sessions, job_id, build_storage(settings))
    except Exception as exc:
        if event.attempt >= settings.outbox_max_attempts:
            await importer.fail_job(sessions, job_id, f"The export stopped on an internal error: {exc!r}"[:2000])
            return
        raise
