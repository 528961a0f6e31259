"""Import and export runs as admin-visible jobs: counts as they progress and the per-row errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base
from mercato.kit.ids import new_id

JOB_KINDS = ("import", "export")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class CatalogJob(Base):
    __tablename__ = "catalog_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(6), nullable=False)
    format: Mapped[str] = mapped_column(String(5), nullable=False)  # csv, jsonl
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Whether rows may publish products (status=published): the uploader held catalog:publish.
    may_publish: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    file_key: Mapped[str | None] = mapped_column(String(300))  # the uploaded or produced file in storage
    # {"rows": n, "created": n, "updated": n, "unchanged": n, "failed": n}
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    error: Mapped[str | None] = mapped_column(Text)  # why the whole job failed (not a row error)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"kind IN {JOB_KINDS}", name="kind"),
        CheckConstraint(f"status IN {JOB_STATUSES}", name="status"),
    )


class CatalogJobError(Base):
    __tablename__ = "catalog_job_errors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("catalog_jobs.id", ondelete="CASCADE"), nullable=False,
                                              index=True)
    row: Mapped[int] = mapped_column(Integer, nullable=False)  # 1-based data row (header excluded)
    field: Mapped[str] = mapped_column(String(100), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
