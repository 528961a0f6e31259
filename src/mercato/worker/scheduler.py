"""Run due periodic jobs; the job's row lock guarantees one runner per job across all workers."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.db import Database, run_after_commit, take_after_commit
from mercato.kit.jobs import PeriodicJob, ScheduledJob

_log = structlog.get_logger("mercato.scheduler")


def _connection_lost(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError

    return (isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)) or isinstance(exc, OSError)


class Scheduler:
    def __init__(self, db: Database, jobs: list[PeriodicJob]) -> None:
        self.db = db
        self.jobs = jobs

    async def register(self) -> None:
        if not self.jobs:
            return
        async with self.db.sessionmaker() as session, session.begin():
            await session.execute(
                insert(ScheduledJob)
                .values([{"name": job.name, "next_run_at": utcnow()} for job in self.jobs])
                .on_conflict_do_nothing()
            )

    async def run_due(self) -> list[str]:
        """Run every job that is due and not running elsewhere; returns the names run here."""
        ran: list[str] = []
        for job in self.jobs:
            if await self._run_if_due(job):
                ran.append(job.name)
        return ran

    async def _run_if_due(self, job: PeriodicJob) -> bool:
        async with self.db.sessionmaker() as session:
            async with session.begin():
                ran = await self._run_locked(session, job)
            callbacks = take_after_commit(session)
        await run_after_commit(callbacks)
        return ran

    async def _run_locked(self, session: AsyncSession, job: PeriodicJob) -> bool:
        row = (
            await session.execute(
                select(ScheduledJob)
                .where(ScheduledJob.name == job.name, ScheduledJob.next_run_at <= utcnow())
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if row is None:
            return False
        row.last_started_at = utcnow()
        try:
            async with session.begin_nested():
                result = await job.func(session)
            row.last_result = None if result is None else str(result)[:1000]
            row.last_error = None
        except Exception as exc:
            session.info.pop("after_commit", None)  # its work was rolled back: so are its effects
            if _connection_lost(exc):
                raise  # the database went away: nothing to record, the worker waits and retries
            row.last_error = repr(exc)[:4000]
            _log.warning("job_failed", job=job.name, error=repr(exc))
        finished = utcnow()
        row.last_finished_at = finished
        row.next_run_at = finished + job.every
        return True
