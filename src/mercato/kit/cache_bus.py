"""Tag invalidations shared between processes through PostgreSQL LISTEN/NOTIFY, for the in-process
cache (no REDIS_URL).

Each process keeps its own MemoryCache. When one bumps a tag (a product changed), the others must
stop serving what they cached under it, or an API process would show a page a worker or another
API process has just changed. So a bump is also published as a notification on the `mercato_cache`
channel; every listening process bumps the same tag locally. Generations differ between processes,
which does not matter: only a change of generation does.

A listener that loses its connection may miss notifications, so on every (re)connect it drops the
cached values of its process (generations are kept). Publishing never fails a caller: the values
expire after their TTL anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

CHANNEL = "mercato_cache"
_CONNECT_TIMEOUT_S = 3.0
_RECONNECT_DELAY_S = 1.0
_log = structlog.get_logger("mercato.cache")


class TagBus:
    def __init__(self, dsn: Callable[[], str]) -> None:
        self._dsn = dsn
        self._publisher: Any = None
        self._lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None

    async def publish(self, key: str) -> None:
        try:
            async with self._lock:
                if self._publisher is None or self._publisher.is_closed():
                    self._publisher = await _connect(self._dsn())
                await self._publisher.execute("SELECT pg_notify($1, $2)", CHANNEL, key)
        except Exception as exc:  # the local bump happened; other processes catch up by TTL
            _log.warning("cache_bus_publish_failed", error=repr(exc))
            await self._drop_publisher()

    def listen(self, on_key: Callable[[str], object], on_connect: Callable[[], None]) -> None:
        """Apply every published key with `on_key` until `close()`; `on_connect` runs on each
        (re)connection, before any key arrives through it."""
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen(on_key, on_connect))

    async def _listen(self, on_key: Callable[[str], object], on_connect: Callable[[], None]) -> None:
        while True:
            connection: Any = None
            try:
                connection = await _connect(self._dsn())
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, lambda _conn, _pid, _channel, payload: on_key(payload))
                on_connect()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("cache_bus_listen_failed", error=repr(exc))
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=1)
            await asyncio.sleep(_RECONNECT_DELAY_S)

    async def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(Exception):
                await publisher.close(timeout=1)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._drop_publisher()


async def _connect(dsn: str) -> Any:
    import asyncpg

    return await asyncpg.connect(dsn, timeout=_CONNECT_TIMEOUT_S)
