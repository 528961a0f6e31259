"""/admin/imports and /admin/exports: bulk catalogue import/export jobs (format in import_rows.py).

An upload is streamed into storage and answered 202 with a queued job; the worker runs it (see
handlers/imports.py). Poll the job for status and counts; row errors are a paginated list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from mercato.kit.errors import FieldError, InvalidInput, UnsupportedMediaType
from mercato.kit.storage import Storage
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import catalog_jobs
from mercato.modules.catalog.exporter import CONTENT_TYPES as EXPORT_TYPES
from mercato.modules.catalog.jobs_schemas import JobCounts, JobErrorList, JobErrorOut, JobOut
from mercato.modules.catalog.models import CatalogJob

TAGS: list[Any] = ["admin: catalogue"]
imports = APIRouter(prefix="/admin/imports", tags=TAGS, route_class=MercatoRoute)
exports = APIRouter(prefix="/admin/exports", tags=TAGS, route_class=MercatoRoute)

Format = Annotated[str | None, Query(pattern="^(csv|jsonl)$", description="csv or jsonl (default: from the "
                                                                       "Content-Type)")]
_BY_MEDIA_TYPE = {"text/csv": "csv", "application/csv": "csv", "application/x-ndjson": "jsonl",
                  "application/jsonl": "jsonl", "application/x-jsonlines": "jsonl", "application/jsonlines": "jsonl"}
_CHUNK = 1 << 16

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    },
}


def job_out(request: Request, job: CatalogJob) -> JobOut:
    duration = None
    if job.started_at is not None and job.finished_at is not None:
        duration = max((job.finished_at - job.started_at).total_seconds(), 0.0)
    rows = int(job.counts.get("rows", 0))
    file_url = None
    if job.kind == "export" and job.status == "succeeded":
        file_url = str(request.url_for("export_file", job_id=str(job.id)).path)
    return JobOut(
        id=str(job.id), kind=job.kind, format=job.format, status=job.status, dry_run=job.dry_run, actor=job.actor,
        counts=JobCounts(**{k: int(v) for k, v in job.counts.items() if k in JobCounts.model_fields}),
        error=job.error, created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        duration_s=duration, rows_per_s=round(rows / duration, 1) if duration else None, file_url=file_url,
    )


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def _upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_CHUNK):
        yield chunk


@imports.post("", status_code=202, response_model=JobOut, openapi_extra=_UPLOAD_BODY,
              responses=problem_responses(401, 403, 413, 415, 422))
async def create_import(
    request: Request, response: Response,
    format: Format = None,
    dry_run: Annotated[bool, Query(description="Validate and count only; write nothing but the job")] = False,
    principal: Principal = Depends(require_permission("catalog:write")),
    session: AsyncSession = Depends(get_session),
) -> JobOut:
    """Upload a CSV (`text/csv`) or JSON Lines (`application/x-ndjson`) file as the request body, or
    as the `file` field of a multipart form. Answers 202 with the queued job; follow `Location`."""
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    storage = _storage(request)
    if media_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("The request has invalid fields.",
                               errors=[FieldError("file", "required", "Send the file in the `file` field.")])
        name = (upload.filename or "").lower()
        fmt = format or ("jsonl" if name.endswith((".jsonl", ".ndjson")) else "csv")
        job = await catalog_jobs.create_import(session, storage, _upload_chunks(upload), fmt=fmt, dry_run=dry_run,
                                               actor=principal.scope, may_publish=principal.can("catalog:publish"))
    else:
        detected = _BY_MEDIA_TYPE.get(media_type)
        if detected is None:
            raise UnsupportedMediaType("Send text/csv, application/x-ndjson or a multipart form with `file`.")
        job = await catalog_jobs.create_import(session, storage, request.stream(), fmt=format or detected,
                                               dry_run=dry_run, actor=principal.scope,
                                               may_publish=principal.can("catalog:publish"))
    response.headers["Location"] = f"/admin/imports/{job.id}"
    return job_out(request, job)


@imports.get("/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404))
async def get_import(
    job_id: str, request: Request,
    _: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> JobOut:
    """Status, counts so far and timing."""
    return job_out(request, await catalog_jobs.get_job(session, job_id, "import"))


@imports.get("/{job_id}/errors", response_model=JobErrorList, responses=problem_responses(401, 403, 404, 422))
async def list_import_errors(
    job_id: str,
    page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> JobErrorList:
    """Row errors in file order: row number, field, message."""
    job = await catalog_jobs.get_job(session, job_id, "import")
    result = await catalog_jobs.list_errors(session, job, limit=page.limit, cursor=page.cursor)
    return JobErrorList(items=[JobErrorOut(row=e.row, field=e.field, message=e.message) for e in result.items],
                        next_cursor=result.next_cursor)


@exports.post("", status_code=202, response_model=JobOut, responses=problem_responses(401, 403, 422))
async def create_export(
    request: Request, response: Response,
    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
    principal: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> JobOut:
    """Queue an export of every product, variant and base price; the file follows at `file_url`."""
    job = await catalog_jobs.create_export(session, fmt=format, actor=principal.scope)
    response.headers["Location"] = f"/admin/exports/{job.id}"
    return job_out(request, job)


@exports.get("/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404))
async def get_export(
    job_id: str, request: Request,
    _: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> JobOut:
    return job_out(request, await catalog_jobs.get_job(session, job_id, "export"))


@exports.get("/{job_id}/file", name="export_file", responses={
    200: {"content": {"text/csv": {}, "application/x-ndjson": {}}, "description": "The export file"},
    **problem_responses(401, 403, 404)})
async def export_file(
    job_id: str, request: Request,
    _: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> StreamingResponse:
    """The export file (404 `catalog.export_not_ready` until the job has succeeded)."""
    job = await catalog_jobs.get_job(session, job_id, "export")
    if job.status != "succeeded" or job.file_key is None:
        raise catalog_jobs.ExportNotReady()
    filename = f"catalogue-{job.id}.{job.format}"
    return StreamingResponse(_storage(request).read(job.file_key), media_type=EXPORT_TYPES[job.format],
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


routers = [imports, exports]
