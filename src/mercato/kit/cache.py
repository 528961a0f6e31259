"""Cache facade: Redis when REDIS_URL is set (shared by every process), else an in-process LRU.

Values are bytes. Invalidation by tag uses generation counters: a cached key embeds the current
generation of its tags, so bumping a tag makes every key under it unreachable in O(1).
"""

from __future__ import annotations

import contextlib
import time
from typing import Protocol

from cachetools import LRUCache

from mercato.kit.settings import Settings

_PREFIX = "mercato:"
_COUNTER_TTL_S = 10 * 365 * 86_400


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_s: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str) -> int: ...
    async def close(self) -> None: ...


class MemoryCache:
    def __init__(self, max_items: int = 10_000) -> None:
        self._items: LRUCache[str, tuple[float, bytes]] = LRUCache(maxsize=max_items)

    async def get(self, key: str) -> bytes | None:
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
        value = int(await self.get(key) or 0) + 1
        await self.set(key, str(value).encode(), _COUNTER_TTL_S)
        return value

    async def close(self) -> None:
        self._items.clear()


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
    return MemoryCache()
