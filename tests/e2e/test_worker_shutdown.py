"""SIGTERM stops a `mercato worker` cleanly: the batch in flight is finished and committed, not abandoned."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from mercato.kit.db import Database
from mercato.kit.outbox import emit
from mercato.kit.settings import Settings
from tests.fixtures.event_handlers import CRASH_EVENT, CRASH_TABLES_DDL
from tests.fixtures.processes import Processes, process_env

pytestmark = pytest.mark.slow


@pytest.fixture
async def db(fresh_database: Callable[[], str], settings: Settings) -> AsyncIterator[tuple[str, Database]]:
    url = fresh_database()
    database = Database.connect(url, settings, pool_size=2, max_overflow=0)
    try:
        async with database.sessionmaker() as session, session.begin():
            for ddl in CRASH_TABLES_DDL:
                await session.execute(text(ddl))
        yield url, database
    finally:
        await database.dispose()


async def scalar(db: Database, sql: str, **params: object) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_sigterm_finishes_the_current_batch_then_exits_zero(
    db: tuple[str, Database], processes: Processes, tmp_path: Path
) -> None:
    url, database = db
    async with database.sessionmaker() as session, session.begin():
        for i in range(100):
            await emit(session, {"seq": i}, name=CRASH_EVENT)
    progress = tmp_path / "progress"
    progress.mkdir()
    env = process_env(
        url,
        MERCATO_WORKER_HANDLER_MODULES="tests.fixtures.event_handlers", MERCATO_OUTBOX_BATCH_SIZE="20",
        CRASH_PROGRESS_DIR=str(progress), CRASH_HANDLER_DELAY_S="0.03",
    )
    worker = processes.spawn(["worker"], env, "worker")
    marks = progress / f"{worker.pid}.log"

    def handled() -> int:
        return len(marks.read_text().splitlines()) if marks.exists() else 0

    deadline = time.monotonic() + 30
    # Wait until the second batch is under way, with effects applied but not committed.
    while not (handled() > 25 and handled() - await scalar(database, "SELECT count(*) FROM crash_effects") >= 2):
        assert time.monotonic() < deadline, "the worker never got going"
        assert worker.poll() is None
        await asyncio.sleep(0.005)
    os.killpg(worker.pid, signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 10) == 0

    # Everything it started was committed; it did not start another batch after the signal.
    committed = await scalar(database, "SELECT count(*) FROM crash_effects")
    assert committed == handled()
    assert committed % 20 == 0
    assert await scalar(database, "SELECT count(*) FROM outbox_events WHERE status = 'done'") == committed
    assert await scalar(database, "SELECT count(*) FROM outbox_events WHERE status = 'pending'") == 100 - committed
