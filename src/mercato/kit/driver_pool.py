"""A pool of plain asyncpg connections for `kit.db.RawPool`, lighter than asyncpg's own.

asyncpg's pool spends more of the hottest request's CPU than its queries' own Python does: each
checkout goes through an `asyncio.Queue`, each return through `asyncio.shield` (a task) and
`asyncio.timeout`, and on Python 3.11 every one of those asks for the running loop, a `getpid`
system call each time. Here a checkout is a list pop and a return a list append when no one is
waiting; a caller who finds every connection busy waits for the next one given back, first come
first served.

A connection is given back as it was left, with two exceptions: a transaction left open is rolled
back, and a connection whose user ended in a failure that can leave it in the middle of an
exchange with the server (cancelled or timed out, a lost connection, a driver error) is closed
and its place freed for a new one — as is one found closed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import asyncpg

# Failures after which a connection may still be waiting for (part of) an answer.
_MID_EXCHANGE = (asyncio.CancelledError, OSError, asyncpg.InterfaceError,
                 asyncpg.exceptions._base.InternalClientError)


def _mid_exchange(error: BaseException) -> bool:
    return isinstance(error, _MID_EXCHANGE) or isinstance(error.__cause__, _MID_EXCHANGE)


class DriverPool:
    """At most `size` connections made by `connect`, opened when first needed and reused last
    given back, first taken (the connection most likely to be warm)."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs room for one connection at least")
        self._connect = connect
        self._size = size
        self._idle: list[Any] = []
        self._opened = 0  # connections open or being opened, idle or in use
        # A waiter's future gets a connection, or None: "a place is free, open one" (counted for it).
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def opened(self) -> int:
        return self._opened

    def acquire(self) -> AbstractAsyncContextManager[Any]:
        """`async with pool.acquire() as connection:` a connection, given back afterwards."""
        return _Lease(self)

    async def close(self) -> None:
        """Close the idle connections now and every other one when it is given back."""
        self._closed = True
        idle, self._idle = self._idle, []
        self._opened -= len(idle)
        for connection in idle:
            connection.terminate()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the pool is closed"))

    async def _take(self) -> Any:
        if self._closed:
            raise asyncpg.InterfaceError("the pool is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._opened -= 1
        if self._opened < self._size:
            self._opened += 1
            return await self._open()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on(waiter.result())  # handed over just as this caller gave up
            raise
        return handed if handed is not None else await self._open()

    async def _open(self) -> Any:
        """A new connection in a place already counted in `_opened`."""
        try:
            return await self._connect()
        except BaseException:
            self._pass_on(None)
            raise

    def _pass_on(self, handed: Any) -> None:
        """Give a connection (or, None, a free place) to the first caller still waiting."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return
        if handed is None:
            self._opened -= 1
        else:
            self._idle.append(handed)

    async def _give_back(self, connection: Any, *, broken: bool) -> None:
        if not broken and not connection.is_closed() and connection.is_in_transaction():
            try:
                await connection.execute("ROLLBACK")
            except BaseException:
                broken = True
                if not connection.is_closed():
                    connection.terminate()
                self._pass_on(None)
                raise
        if broken or self._closed or connection.is_closed():
            if not connection.is_closed():
                connection.terminate()
            self._pass_on(None)
            return
        self._pass_on(connection)


class _Lease:
    """One use of a connection (a class rather than a generator: this is on every fast request)."""

    __slots__ = ("_connection", "_pool")

    def __init__(self, pool: DriverPool) -> None:
        self._pool = pool
        self._connection: Any = None

    async def __aenter__(self) -> Any:
        self._connection = await self._pool._take()
        return self._connection

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        connection, self._connection = self._connection, None
        await self._pool._give_back(connection, broken=error is not None and _mid_exchange(error))
