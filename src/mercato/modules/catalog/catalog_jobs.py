"""Import and export jobs: create them (the file goes to storage, an outbox event asks the worker to
run them), read their state and their row errors.

Why the work runs from an outbox event: the request only streams the upload into storage and
records a queued job, so it answers at once whatever the file size; the worker delivers
`catalog.import_requested` and the handler runs the import in its own per-batch transactions for
up to a time budget, then re-emits the event if rows remain (see handlers/imports.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import InvalidInput, NotFound
from mercato.kit.ids import new_id, parse_id
from mercato.kit.outbox import emit
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.kit.storage import Storage
from mercato.modules.catalog.jobs_events import ExportRequested, ImportRequested
from mercato.modules.catalog.models import CatalogJob, CatalogJobError

FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


class JobNotFound(NotFound):
    code = "catalog.job_not_found"
    title = "Job not found"

    def __init__(self) -> None:
        super().__init__("No such import or export job.")


class EmptyImportFile(InvalidInput):
    code = "catalog.import_empty"
    title = "Empty import file"

    def __init__(self) -> None:
        super().__init__("The uploaded file is empty.")


class ExportNotReady(NotFound):
    code = "catalog.export_not_ready"
    title = "Export not ready"

    def __init__(self) -> None:
        super().__init__("The export has no file yet (see its status).")


def import_key(job_id: uuid.UUID, fmt: str) -> str:
    return f"imports/{job_id}.{fmt}"


async def create_import(
    session: AsyncSession, storage: Storage, chunks: AsyncIterable[bytes], *, fmt: str, dry_run: bool, actor: str,
    may_publish: bool,
) -> CatalogJob:
    """Stream the file into storage and queue the job (the caller's transaction emits the event)."""
    job_id = new_id()
    key = import_key(job_id, fmt)
    size = await storage.write(key, chunks, CONTENT_TYPES[fmt])
    if size == 0:
        await storage.delete(key)
        raise EmptyImportFile()
    return await queue_import(session, job_id=job_id, key=key, fmt=fmt, dry_run=dry_run, actor=actor,
                              may_publish=may_publish)


async def queue_import(session: AsyncSession, *, job_id: uuid.UUID, key: str, fmt: str, dry_run: bool,
                       actor: str, may_publish: bool, in_worker: bool = True) -> CatalogJob:
    """Record the job; `in_worker=False` when the caller runs it itself (the CLI), so no worker
    picks it up as well. Rows may publish products only when `may_publish` (catalog:publish)."""
    job = CatalogJob(id=job_id, kind="import", format=fmt, status="queued", dry_run=dry_run, actor=actor,
                     may_publish=may_publish, file_key=key, counts={})
    session.add(job)
    await session.flush()
    if in_worker:
        await emit(session, ImportRequested(job_id=str(job_id)))
    return job


async def create_export(session: AsyncSession, *, fmt: str, actor: str, in_worker: bool = True) -> CatalogJob:
    job = CatalogJob(id=new_id(), kind="export", format=fmt, status="queued", dry_run=False, actor=actor, counts={})
    session.add(job)
    await session.flush()
    if in_worker:
        await emit(session, ExportRequested(job_id=str(job.id)))
    return job


async def get_job(session: AsyncSession, raw_id: str, kind: str) -> CatalogJob:
    job_id = parse_id(raw_id)
    job = None if job_id is None else await session.get(CatalogJob, job_id)
    if job is None or job.kind != kind:
        raise JobNotFound()
    return job


async def list_errors(session: AsyncSession, job: CatalogJob, *, limit: int, cursor: str | None
                      ) -> Page[CatalogJobError]:
    """The job's row errors in file order (row, then the order they were found)."""
    query = select(CatalogJobError).where(CatalogJobError.job_id == job.id)
    return await keyset_page(session, query, [SortKey(CatalogJobError.id)], limit=limit, cursor=cursor)
