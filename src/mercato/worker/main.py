"""`mercato worker`: deliver outbox events and run periodic jobs until told to stop.

Idle workers sleep on LISTEN (a trigger NOTIFYs on every outbox insert) with a polling fallback,
so delivery is prompt without hammering the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket

import asyncpg
import structlog

from mercato.kit.db import Database, resolve_database_url
from mercato.kit.jobs import registered_jobs
from mercato.kit.outbox import registry
from mercato.kit.settings import Settings
from mercato.registry import import_handlers_and_tasks
from mercato.worker.dispatcher import Dispatcher
from mercato.worker.scheduler import Scheduler

NOTIFY_CHANNEL = "mercato_outbox"
_JOB_CHECK_INTERVAL_S = 1.0
_RETRY_INTERVAL_S = 2.0  # waiting for an unreachable database, and between LISTEN attempts
_log = structlog.get_logger("mercato.worker")


class Worker:
    def __init__(self, settings: Settings, db: Database, raw_url: str) -> None:
        self.settings = settings
        self.db = db
        self.raw_url = raw_url
        self.dispatcher = Dispatcher(db, registry, settings)
        self.scheduler = Scheduler(db, registered_jobs())
        self.stopping = asyncio.Event()
        self.wakeup = asyncio.Event()
        self.listener: asyncpg.Connection | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    async def run(self) -> None:
        _log.info("worker_started", worker=self.name, events=registry.event_names(),
                  jobs=[j.name for j in self.scheduler.jobs])
        loop = asyncio.get_running_loop()
        registered = False
        next_job_check = 0.0
        next_listen_attempt = 0.0
        try:
            while not self.stopping.is_set():
                # (Re-)LISTEN when there is no live listener, e.g. after a database restart.
                if (self.listener is None or self.listener.is_closed()) and loop.time() >= next_listen_attempt:
                    self.listener = await self._listen()
                    next_listen_attempt = loop.time() + _RETRY_INTERVAL_S
                # Cleared before claiming, not before sleeping: a NOTIFY that arrives while a batch
                # runs must still cut the following sleep short.
                self.wakeup.clear()
                try:
                    if not registered:
                        await self.scheduler.register()
                        registered = True
                    claimed = await self.dispatcher.run_batch()
                    if loop.time() >= next_job_check:
                        await self.scheduler.run_due()
                        next_job_check = loop.time() + _JOB_CHECK_INTERVAL_S
                except Exception as exc:
                    if not is_database_unavailable(exc):
                        raise
                    _log.warning("worker_db_unavailable", error=repr(exc))
                    await self._sleep(_RETRY_INTERVAL_S)
                    continue
                if claimed == 0:
                    await self._sleep(self.settings.worker_poll_interval_s)
        finally:
            if self.listener is not None:
                with contextlib.suppress(Exception):
                    await self.listener.close()
            _log.info("worker_stopped", worker=self.name)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                waiters = [asyncio.ensure_future(self.wakeup.wait()), asyncio.ensure_future(self.stopping.wait())]
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()

    async def _listen(self) -> asyncpg.Connection | None:
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()
            self.listener = None
        try:
            url = self.raw_url.replace("postgresql+asyncpg://", "postgresql://")
            connection = await asyncpg.connect(url, timeout=self.settings.db_connect_timeout_s)
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_: self.wakeup.set())
            return connection
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _log.warning("worker_listen_unavailable", error=repr(exc))
            return None


# Errors meaning "the database cannot be reached right now", raw or wrapped by SQLAlchemy.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, no socket, connect timeout
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,  # starting up / shutting down / in recovery
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database is (temporarily) out of reach, so the worker should wait."""
    from sqlalchemy.exc import DBAPIError, PendingRollbackError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # PendingRollbackError: a transaction whose connection was invalidated (the server went away
        # mid-transaction) was used again; it says nothing about the event or job being bad.
        if isinstance(current, (*_UNAVAILABLE, PoolTimeout, PendingRollbackError)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__  # explicit wrapping only (SQLAlchemy and asyncpg use `raise ... from`)
    return False


async def run_worker(settings: Settings, *, once: bool = False) -> None:
    import_handlers_and_tasks(settings.worker_handler_modules)
    url = await asyncio.to_thread(resolve_database_url, settings)
    db = Database.connect(url, settings, pool_size=2, max_overflow=2)
    worker = Worker(settings, db, url)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, worker.stopping.set)
    try:
        if once:
            await worker.scheduler.register()
            while await worker.dispatcher.run_batch():
                pass
            await worker.scheduler.run_due()
        else:
            await worker.run()
    finally:
        await db.dispose()
