"""Response models of /admin/imports and /admin/exports."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class JobCounts(BaseModel):
    rows: int = Field(0, description="Data rows processed so far")
    created: int = Field(0, description="Rows whose variant was created")
    updated: int = Field(0, description="Rows whose variant, prices or product changed")
    unchanged: int = Field(0, description="Rows that changed nothing")
    failed: int = Field(0, description="Rows skipped because of errors (see /errors)")
    products_created: int = 0
    products_updated: int = 0


class JobOut(BaseModel):
    id: str
    kind: str = Field(description="import or export")
    format: str = Field(description="csv or jsonl")
    status: str = Field(description="queued, running, succeeded or failed")
    dry_run: bool
    actor: str
    counts: JobCounts
    error: str | None = Field(None, description="Why the whole job failed (row errors are listed separately)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = Field(None, description="Seconds from start to finish")
    rows_per_s: float | None = None
    file_url: str | None = Field(None, description="Exports: where to download the file")


class JobErrorOut(BaseModel):
    row: int = Field(description="1-based data row (CSV: header excluded; JSON Lines: line number)")
    field: str
    message: str


class JobErrorList(BaseModel):
    items: list[JobErrorOut]
    next_cursor: str | None
