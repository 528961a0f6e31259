"""Workers SIGKILLed in the middle of a batch lose nothing and apply nothing twice.

Three real `mercato worker` processes drain 300 events whose handler does a plain INSERT keyed by the
event id (a second application would fail with a unique violation and show up as a retry or dead
letter) and bumps a per-process counter. Two workers are killed with SIGKILL while they hold
uncommitted effects (one deep into a batch, one just after claiming one) and are replaced. At the end
every event is delivered exactly once as far as the database can tell.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from mercato.kit.db import Database
from mercato.kit.outbox import emit
from mercato.kit.settings import Settings
from tests.fixtures.event_handlers import CRASH_EVENT, CRASH_HANDLER, CRASH_TABLES_DDL
from tests.fixtures.processes import Processes, process_env

pytestmark = pytest.mark.slow

EVENTS = 300
DEADLINE_S = 60.0


@pytest.fixture
async def crash_db(fresh_database: Callable[[], str], settings: Settings) -> AsyncIterator[tuple[str, Database]]:
    url = fresh_database()
    db = Database.connect(url, settings, pool_size=2, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            for ddl in CRASH_TABLES_DDL:
                await session.execute(text(ddl))
        yield url, db
    finally:
        await db.dispose()


class Observer:
    """Reads progress: handler calls (files written outside any transaction) vs committed effects."""

    def __init__(self, db: Database, progress_dir: Path) -> None:
        self.db = db
        self.progress_dir = progress_dir

    def handled(self, pid: int) -> int:
        path = self.progress_dir / f"{pid}.log"
        return len(path.read_text().splitlines()) if path.exists() else 0

    async def scalar(self, sql: str, **params: object) -> int:
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())

    async def committed(self, pid: int) -> int:
        return await self.scalar("SELECT count(*) FROM crash_effects WHERE worker_pid = :pid", pid=pid)

    async def in_flight(self, pid: int) -> int:
        """Effects applied by the handler in `pid`'s open transaction, not (yet) committed."""
        handled = self.handled(pid)  # read first: it only grows, so the difference is never overstated
        return handled - await self.committed(pid)

    async def count(self, status: str) -> int:
        return await self.scalar("SELECT count(*) FROM outbox_events WHERE status = :status", status=status)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def logs(directory: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(directory.glob("*.log")))


async def test_sigkilled_workers_neither_lose_nor_double_apply_events(
    crash_db: tuple[str, Database], processes: Processes, tmp_path: Path
) -> None:
    url, db = crash_db
    started = time.monotonic()

    event_ids: set[object] = set()
    for chunk in range(3):  # three committed transactions
        async with db.sessionmaker() as session, session.begin():
            for i in range(EVENTS // 3):
                event_ids.add(await emit(session, {"seq": chunk * 1000 + i}, name=CRASH_EVENT))
    assert len(event_ids) == EVENTS

    progress = tmp_path / "progress"
    progress.mkdir()
    env = process_env(
        url,
        MERCATO_WORKER_HANDLER_MODULES="tests.fixtures.event_handlers",
        MERCATO_OUTBOX_BATCH_SIZE="20",
        # Any handler failure (such as a duplicate effect) dead-letters the event at once.
        MERCATO_OUTBOX_MAX_ATTEMPTS="1",
        MERCATO_WORKER_POLL_INTERVAL_S="0.1",
        CRASH_PROGRESS_DIR=str(progress),
        CRASH_HANDLER_DELAY_S="0.02",
    )
    workers = [processes.spawn(["worker"], env, "worker") for _ in range(3)]
    observer = Observer(db, progress)

    async def kill_one_mid_batch(
        candidates: list[subprocess.Popen[bytes]], min_done: int, in_flight: range
    ) -> subprocess.Popen[bytes]:
        """SIGKILL the first candidate seen holding `in_flight` uncommitted effects once `min_done` are done."""
        while time.monotonic() - started < DEADLINE_S:
            for proc in candidates:
                assert proc.poll() is None, f"a worker exited on its own\n{logs(tmp_path)}"
            if await observer.count("done") >= min_done:
                for proc in candidates:
                    if await observer.in_flight(proc.pid) in in_flight:
                        kill(proc)
                        return proc
            await asyncio.sleep(0.002)
        pytest.fail(f"no worker was caught mid-batch ({await observer.count('done')} done)\n{logs(tmp_path)}")

    # First kill: deep inside a batch (at least 5 effects applied, not committed).
    first_victim = await kill_one_mid_batch(workers, 40, range(5, 20))
    workers.append(processes.spawn(["worker"], env, "worker"))
    # Second kill, another original worker: right after it claimed a batch (first effects only).
    survivors = [w for w in workers[:3] if w is not first_victim]
    second_victim = await kill_one_mid_batch(survivors, 150, range(1, 4))
    workers.append(processes.spawn(["worker"], env, "worker"))
    victims = [first_victim, second_victim]

    while time.monotonic() - started < DEADLINE_S:
        if await observer.count("pending") == 0 or await observer.count("dead") > 0:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"outbox not drained in {DEADLINE_S}s: {await observer.count('pending')} pending\n"
                    f"{logs(tmp_path)}")

    # Every event delivered, none failed (a duplicate INSERT would have been a failure), none dead.
    assert await observer.count("dead") == 0, logs(tmp_path)
    assert await observer.count("done") == EVENTS
    assert await observer.scalar("SELECT count(*) FROM outbox_events WHERE attempts > 0 OR last_error IS NOT NULL") == 0
    # Exactly one effect per event, and the counter agrees.
    assert await observer.scalar("SELECT count(*) FROM crash_effects") == EVENTS
    assert await observer.scalar("SELECT count(DISTINCT event_id) FROM crash_effects") == EVENTS
    async with db.engine.connect() as conn:
        effect_ids = set((await conn.execute(text("SELECT event_id FROM crash_effects"))).scalars())
        processed = (await conn.execute(
            text("SELECT event_id FROM outbox_processed WHERE handler = :h"), {"h": CRASH_HANDLER}
        )).scalars().all()
        counters = {pid: n for pid, n in await conn.execute(text("SELECT worker_pid, n FROM crash_counter"))}
    assert effect_ids == event_ids
    assert sum(counters.values()) == EVENTS
    assert len(processed) == EVENTS
    assert set(processed) == event_ids

    for victim in victims:
        committed = await observer.committed(victim.pid)
        # The victim had applied effects that were never committed: it really died mid-batch, and
        # those events were then applied (once) by other workers.
        assert observer.handled(victim.pid) > committed, f"worker {victim.pid} was not killed mid-batch"
        assert counters.get(victim.pid, 0) == committed
    handler_calls = sum(observer.handled(w.pid) for w in workers)
    assert handler_calls > EVENTS  # the killed batches were redelivered

    for survivor in (w for w in workers if w not in victims):
        assert survivor.poll() is None, f"worker {survivor.pid} died\n{logs(tmp_path)}"
    assert time.monotonic() - started < DEADLINE_S
