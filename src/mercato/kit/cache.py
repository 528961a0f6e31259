"""Cache facade: Redis when REDIS_URL is set (shared by every process), else an in-process LRU
whose tag invalidations travel to the other processes through PostgreSQL (kit.cache_bus).

Values are bytes. Invalidation by tag uses generation counters: a cached key embeds the current
generation of its tags, so bumping a tag makes every key under it unreachable in O(1).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from typing import Protocol

from cachetools import LRUCache
from sqlalchemy.engine import make_url

from mercato.kit.cache_bus import TagBus
from mercato.kit.settings import Settings

_PREFIX = "mercato:"


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_s: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str) -> int: ...
    async def close(self) -> None: ...


class MemoryCache:
    def __init__(self, max_items: int = 10_000, bus: TagBus | None = None) -> None:
        self._items: LRUCache[str, tuple[float, bytes]] = LRUCache(maxsize=max_items)
        # Counters live apart from the LRU: an evicted counter would restart at 0 and could make
        # values cached under an old generation reachable again.
        self._counters: dict[str, int] = {}
        self._bus = bus

    async def get(self, key: str) -> bytes | None:
        counter = self._counters.get(key)
        if counter is not None:
            return str(counter).encode()
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            self._items.pop(key, None)
            return None
        return value

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self._items[key] = (time.monotonic() + ttl_s, value)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def incr(self, key: str) -> int:
        value = self.bump(key)
        if self._bus is not None:
            await self._bus.publish(key)
        return value

    def bump(self, key: str) -> int:
        """Increment a counter here only (what another process's `incr` does to this one)."""
        value = self._counters.get(key, 0) + 1
        self._counters[key] = value
        return value

    def drop_values(self) -> None:
        self._items.clear()

    def listen(self) -> None:
        """Apply the other processes' invalidations to this cache (call from a running loop)."""
        if self._bus is not None:
            self._bus.listen(self.bump, self.drop_values)

    async def close(self) -> None:
        self._items.clear()
        if self._bus is not None:
            await self._bus.close()


class RedisCache:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(_PREFIX + key)
        except Exception:  # a cache outage degrades to misses, never to errors
            return None
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        with contextlib.suppress(Exception):
            await self._redis.set(_PREFIX + key, value, ex=ttl_s)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(Exception):
            await self._redis.delete(_PREFIX + key)

    async def incr(self, key: str) -> int:
        return int(await self._redis.incr(_PREFIX + key))

    async def close(self) -> None:
        await self._redis.aclose()


async def tag_generation(cache: Cache, tag: str) -> int:
    raw = await cache.get(f"tag:{tag}")
    return int(raw) if raw else 0


async def invalidate_tag(cache: Cache, tag: str) -> None:
    await cache.incr(f"tag:{tag}")


def build_cache(settings: Settings) -> Cache:
    if settings.redis_url:
        return RedisCache(settings.redis_url)
    return MemoryCache(bus=TagBus(lambda: _libpq_url(settings)) if settings.cache_bus else None)


def _libpq_url(settings: Settings) -> str:
    from mercato.kit.db import resolve_database_url

    return make_url(resolve_database_url(settings, start_embedded=False)).set(drivername="postgresql").render_as_string(
        hide_password=False)


_process_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Cache] = weakref.WeakKeyDictionary()
_app_cache: Cache | None = None


def register_app_cache(cache: Cache) -> None:
    """The API's own cache, which service code without a request at hand must invalidate: an
    in-memory cache of another object would never see the bump."""
    global _app_cache
    _app_cache = cache


def process_cache(settings: Settings) -> Cache:
    """One cache per process (per event loop) for code that runs outside a request, such as worker
    handlers and jobs: building one per call would open a connection per call. In an API process
    it is the app's cache."""
    if _app_cache is not None:
        return _app_cache
    loop = asyncio.get_running_loop()
    cache = _process_caches.get(loop)
    if cache is None:
        cache = _process_caches[loop] = build_cache(settings)
    return cache
