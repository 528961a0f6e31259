"""Events of the import/export jobs (handled by catalog/handlers/imports.py in the worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ImportRequested:
    """An import job is queued (or has more rows to go after a time-boxed run)."""

    name: ClassVar[str] = "catalog.import_requested"
    job_id: str


@dataclass(frozen=True)
class ExportRequested:
    name: ClassVar[str] = "catalog.export_requested"
    job_id: str
