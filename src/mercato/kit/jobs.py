"""Periodic jobs: registered here, run by the worker's scheduler, one runner per job at a time.

Each job has a row in `scheduled_jobs`; a worker runs a due job while holding that row's lock
(`FOR UPDATE SKIP LOCKED`), so however many workers run, a job never runs twice concurrently and
a crashed run is simply retried by the next worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import DateTime, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base

JobFunc = Callable[[AsyncSession], Awaitable[object]]
F = TypeVar("F", bound=JobFunc)  # the decorated function keeps its own signature (extra keyword options)


class ScheduledJob(Base):
    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_result: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    func: JobFunc


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, every: timedelta) -> Callable[[F], F]:
    """Decorator for a module's tasks.py: run `func(session)` every `every`, in one transaction."""

    def decorate(func: F) -> F:
        _jobs[name] = PeriodicJob(name, every, func)
        return func

    return decorate


def registered_jobs() -> list[PeriodicJob]:
    return [_jobs[name] for name in sorted(_jobs)]
