"""The `mercato worker` loop in-process: woken by NOTIFY rather than polling, stops when told to,
waits out an unreachable database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from mercato.kit.db import Database
from mercato.kit.outbox import DeliveredEvent, HandlerRegistry, emit
from mercato.kit.settings import Settings
from mercato.worker.main import Worker, is_database_unavailable
from mercato.worker.scheduler import Scheduler


async def pending(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM outbox_events WHERE status <> 'done'"))).scalar_one())


@pytest.fixture
async def committed(fresh_database: Callable[[], str], settings: Settings) -> AsyncIterator[tuple[str, Database]]:
    url = fresh_database()
    db = Database.connect(url, settings, pool_size=2, max_overflow=0)
    try:
        yield url, db
    finally:
        await db.dispose()


async def test_idle_worker_is_woken_by_notify_and_stops_promptly(
    committed: tuple[str, Database], settings: Settings
) -> None:
    url, db = committed
    delivered: asyncio.Queue[DeliveredEvent] = asyncio.Queue()

    async def handler(session: object, event: DeliveredEvent) -> None:
        await delivered.put(event)

    registry = HandlerRegistry()
    registry.register("test.wake", handler, name="wake")
    # Polling alone would take 30 s: only LISTEN/NOTIFY can deliver within the bounds below.
    worker = Worker(settings.model_copy(update={"worker_poll_interval_s": 30.0}), db, url)
    worker.dispatcher.registry = registry
    worker.scheduler = Scheduler(db, [])
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.5)  # let it find the outbox empty and go to sleep
        assert not task.done()
        for n in range(3):
            async with db.sessionmaker() as session, session.begin():
                event_id = await emit(session, {"n": n}, name="test.wake")
            async with asyncio.timeout(3):
                event = await delivered.get()
            assert event.id == event_id
        async with asyncio.timeout(3):  # the handler ran; the batch commits right after
            while await pending(db):
                await asyncio.sleep(0.02)
    finally:
        worker.stopping.set()
        async with asyncio.timeout(3):
            await task


async def test_worker_waits_out_an_unreachable_database_and_still_stops_promptly(settings: Settings) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    db = Database.connect(url, settings, pool_size=1, max_overflow=0)
    worker = Worker(settings, db, url)
    worker.scheduler = Scheduler(db, [])
    try:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)
        assert not task.done(), "an unreachable database must not end the worker"
        worker.stopping.set()
        async with asyncio.timeout(1.5):
            await task
    finally:
        await db.dispose()


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (FileNotFoundError(2, "no socket"), True),
        (chained(DBAPIError("SELECT 1", None, Exception("x")), asyncpg.CannotConnectNowError("starting up")), True),
        (chained(DBAPIError("SELECT 1", None, Exception("x")), asyncpg.AdminShutdownError("shutdown")), True),
        (chained(DBAPIError("SELECT 1", None, Exception("x")), asyncpg.TooManyConnectionsError("too many")), True),
        (DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True), True),
        (PoolTimeout("QueuePool limit reached"), True),
        (chained(DBAPIError("INSERT", None, Exception("x")), asyncpg.UniqueViolationError("duplicate")), False),
        (chained(DBAPIError("SELECT", None, Exception("x")), asyncpg.QueryCanceledError("statement timeout")), False),
        (ValueError("a bug"), False),
        (chained(RuntimeError("wrapper"), ValueError("a bug")), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(exc: BaseException, unavailable: bool) -> None:
    assert is_database_unavailable(exc) is unavailable


def test_a_bug_raised_while_handling_a_disconnect_is_not_mistaken_for_an_outage() -> None:
    def buggy_error_path() -> None:
        try:
            raise ConnectionResetError(104, "reset")
        except ConnectionResetError:
            raise KeyError("bug in the error path")  # noqa: B904 - implicit context on purpose

    with pytest.raises(KeyError) as caught:
        buggy_error_path()
    assert isinstance(caught.value.__context__, ConnectionResetError)
    assert not is_database_unavailable(caught.value)


def test_a_transaction_left_over_from_a_lost_connection_means_wait_not_crash() -> None:
    from sqlalchemy.exc import PendingRollbackError

    # Seen when the server stops in the middle of a periodic job: the scheduler's commit then
    # raises this, and the worker must wait for the database instead of exiting.
    assert is_database_unavailable(PendingRollbackError("Can't reconnect until invalid transaction is rolled back"))
