"""Periodic jobs: run when due, once per period, errors recorded, one runner across workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.db import Database
from mercato.kit.jobs import PeriodicJob, ScheduledJob
from mercato.kit.settings import Settings
from mercato.worker.scheduler import Scheduler


async def job_row(session: AsyncSession, name: str) -> Any:
    return (await session.execute(select(ScheduledJob.__table__).where(ScheduledJob.name == name))).one()


@pytest.fixture
def db(engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]) -> Database:
    return Database(engine_db.engine, sessionmaker)


async def test_job_runs_when_due_and_not_again_before_its_period(db: Database, session: AsyncSession) -> None:
    runs: list[str] = []

    async def tick(session: AsyncSession) -> int:
        runs.append("tick")
        return 42

    every = timedelta(seconds=0.5)
    scheduler = Scheduler(db, [PeriodicJob("test.tick", every, tick)])
    await scheduler.register()
    await scheduler.register()  # idempotent: every worker registers at start-up

    before = utcnow()
    assert await scheduler.run_due() == ["test.tick"]
    assert runs == ["tick"]
    row = await job_row(session, "test.tick")
    assert row.last_result == "42"
    assert row.last_error is None
    assert before <= row.last_started_at <= row.last_finished_at
    assert row.next_run_at == row.last_finished_at + every

    # Not due again until `every` has passed.
    assert await scheduler.run_due() == []
    assert await scheduler.run_due() == []
    assert runs == ["tick"]

    await asyncio.sleep(max(0.0, (row.next_run_at - utcnow()).total_seconds()) + 0.05)
    assert await scheduler.run_due() == ["test.tick"]
    assert runs == ["tick", "tick"]
    assert await scheduler.run_due() == []


async def test_registering_keeps_an_existing_schedule(db: Database, session: AsyncSession) -> None:
    async def noop(session: AsyncSession) -> None:
        return None

    job = PeriodicJob("test.hourly", timedelta(hours=1), noop)
    assert await Scheduler(db, [job]).run_due() == []  # never registered: nothing to run
    await Scheduler(db, [job]).register()
    assert await Scheduler(db, [job]).run_due() == ["test.hourly"]
    next_run_at = (await job_row(session, "test.hourly")).next_run_at
    assert next_run_at > utcnow() + timedelta(minutes=59)

    # A restarted worker registers again; the job must not become due again.
    restarted = Scheduler(db, [job])
    await restarted.register()
    assert (await job_row(session, "test.hourly")).next_run_at == next_run_at
    assert await restarted.run_due() == []
    row = await job_row(session, "test.hourly")
    assert row.last_result is None


async def test_failing_job_records_last_error_and_its_writes_roll_back(
    db: Database, session: AsyncSession
) -> None:
    await session.execute(text("CREATE TABLE job_effects (note text NOT NULL)"))
    await session.commit()
    failing = True

    async def flaky(session: AsyncSession) -> str:
        await session.execute(text("INSERT INTO job_effects (note) VALUES ('written')"))
        if failing:
            raise RuntimeError("upstream unavailable")
        return "ok"

    every = timedelta(hours=1)
    scheduler = Scheduler(db, [PeriodicJob("test.flaky", every, flaky)])
    await scheduler.register()

    assert await scheduler.run_due() == ["test.flaky"]
    row = await job_row(session, "test.flaky")
    assert row.last_error == "RuntimeError('upstream unavailable')"
    assert row.last_result is None
    assert row.last_finished_at is not None
    # A failure still waits for the next period (no hot loop on a broken job).
    assert row.next_run_at == row.last_finished_at + every
    assert await session.scalar(text("SELECT count(*) FROM job_effects")) == 0
    assert await scheduler.run_due() == []

    failing = False
    await session.execute(
        text("UPDATE scheduled_jobs SET next_run_at = :at WHERE name = 'test.flaky'"),
        {"at": utcnow() - timedelta(seconds=1)},
    )
    await session.commit()
    assert await scheduler.run_due() == ["test.flaky"]
    row = await job_row(session, "test.flaky")
    assert row.last_error is None
    assert row.last_result == "ok"
    assert await session.scalar(text("SELECT count(*) FROM job_effects")) == 1


async def test_one_failing_job_does_not_stop_the_others(db: Database, session: AsyncSession) -> None:
    ran: list[str] = []

    async def broken(session: AsyncSession) -> None:
        ran.append("broken")
        raise ValueError("nope")

    async def healthy(session: AsyncSession) -> None:
        ran.append("healthy")

    scheduler = Scheduler(db, [PeriodicJob("test.a_broken", timedelta(hours=1), broken),
                               PeriodicJob("test.b_healthy", timedelta(hours=1), healthy)])
    await scheduler.register()
    assert await scheduler.run_due() == ["test.a_broken", "test.b_healthy"]
    assert ran == ["broken", "healthy"]
    assert (await job_row(session, "test.a_broken")).last_error == "ValueError('nope')"
    assert (await job_row(session, "test.b_healthy")).last_error is None


@pytest.fixture
async def two_workers(fresh_database: Callable[[], str], settings: Settings) -> AsyncIterator[list[Database]]:
    url = fresh_database()
    dbs = [Database.connect(url, settings, pool_size=1, max_overflow=0) for _ in range(2)]
    try:
        async with dbs[0].sessionmaker() as session, session.begin():
            await session.execute(text("CREATE TABLE job_runs (runner int NOT NULL, at timestamptz NOT NULL)"))
        yield dbs
    finally:
        for db in dbs:
            await db.dispose()


async def test_racing_schedulers_run_a_due_job_exactly_once(two_workers: list[Database]) -> None:
    started: list[int] = []

    def job_for(runner: int) -> PeriodicJob:
        async def slow(session: AsyncSession) -> None:
            started.append(runner)
            await session.execute(text("INSERT INTO job_runs (runner, at) VALUES (:r, now())"), {"r": runner})
            await asyncio.sleep(0.5)

        return PeriodicJob("test.exclusive", timedelta(minutes=5), slow)

    schedulers = [Scheduler(db, [job_for(i)]) for i, db in enumerate(two_workers)]
    await asyncio.gather(*(s.register() for s in schedulers))

    async with asyncio.timeout(10):
        results = await asyncio.gather(*(s.run_due() for s in schedulers))
        # A second round, after the first run committed, must not run it again either.
        again = await asyncio.gather(*(s.run_due() for s in schedulers))

    assert sorted(results) == [[], ["test.exclusive"]]
    assert again == [[], []]
    assert len(started) == 1
    async with two_workers[1].sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM job_runs")) == 1
        row = await job_row(session, "test.exclusive")
        assert row.last_error is None
        assert row.next_run_at > utcnow() + timedelta(minutes=4)


async def test_a_job_running_elsewhere_is_skipped_not_waited_for(two_workers: list[Database]) -> None:
    """While one worker runs the job (holding its row lock), another worker's run_due returns at once."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def long_job(session: AsyncSession) -> None:
        entered.set()
        await release.wait()

    async def never(session: AsyncSession) -> None:
        raise AssertionError("must not run while another worker runs it")

    first = Scheduler(two_workers[0], [PeriodicJob("test.long", timedelta(minutes=5), long_job)])
    second = Scheduler(two_workers[1], [PeriodicJob("test.long", timedelta(minutes=5), never)])
    await first.register()
    async with asyncio.timeout(10):
        running = asyncio.create_task(first.run_due())
        await entered.wait()
        assert await second.run_due() == []
        release.set()
        assert await running == ["test.long"]
        assert await second.run_due() == []
