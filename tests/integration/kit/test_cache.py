"""The cache facade over process memory and a real Redis (127.0.0.1:6379, database 15)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from mercato.kit.cache import Cache, MemoryCache, RedisCache, build_cache, invalidate_tag, tag_generation
from mercato.kit.settings import Settings
from tests.fixtures.processes import free_port

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """Keys unique to the test, so runs sharing the Redis database never see each other's data;
    whatever the test left in Redis (counters have no TTL) is removed afterwards."""
    unique = f"test:{uuid.uuid4().hex}:"
    yield unique
    raw = Redis.from_url(REDIS_URL)
    try:
        for pattern in (f"mercato:{unique}*", f"mercato:tag:{unique}*"):
            keys = [key async for key in raw.scan_iter(match=pattern)]
            if keys:
                await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Cache]:
    backend: Cache = MemoryCache() if request.param == "memory" else RedisCache(REDIS_URL)
    try:
        yield backend
    finally:
        await backend.close()


async def test_get_set_delete(cache: Cache, prefix: str) -> None:
    key = prefix + "product:1"
    assert await cache.get(key) is None
    await cache.set(key, b"\x00payload\xff", ttl_s=60)
    assert await cache.get(key) == b"\x00payload\xff"
    await cache.set(key, b"v2", ttl_s=60)
    assert await cache.get(key) == b"v2"
    assert await cache.get(prefix + "product:2") is None
    await cache.delete(key)
    assert await cache.get(key) is None
    await cache.delete(key)  # deleting a missing key is fine


async def test_ttl_expiry(cache: Cache, prefix: str) -> None:
    await cache.set(prefix + "short", b"x", ttl_s=1)
    await cache.set(prefix + "long", b"y", ttl_s=60)
    assert await cache.get(prefix + "short") == b"x"
    await asyncio.sleep(1.2)
    assert await cache.get(prefix + "short") is None
    assert await cache.get(prefix + "long") == b"y"


async def test_incr(cache: Cache, prefix: str) -> None:
    key = prefix + "counter"
    assert [await cache.incr(key) for _ in range(3)] == [1, 2, 3]
    assert await cache.get(key) == b"3"
    assert await cache.incr(prefix + "other") == 1


async def test_concurrent_incr_loses_no_update(cache: Cache, prefix: str) -> None:
    key = prefix + "counter"
    results = await asyncio.gather(*(cache.incr(key) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))


async def test_tag_invalidation(cache: Cache, prefix: str) -> None:
    tag = prefix + "catalog"
    other = prefix + "customers"
    assert await tag_generation(cache, tag) == 0

    async def cached_key() -> str:
        return f"{prefix}listing:v{await tag_generation(cache, tag)}"

    key = await cached_key()
    await cache.set(key, b"page-1", ttl_s=60)
    assert await cache.get(await cached_key()) == b"page-1"

    await invalidate_tag(cache, tag)
    assert await tag_generation(cache, tag) == 1
    assert await tag_generation(cache, other) == 0  # other tags untouched
    assert await cache.get(await cached_key()) is None  # the old entry is unreachable
    await invalidate_tag(cache, tag)
    assert await tag_generation(cache, tag) == 2


async def test_redis_cache_is_shared_between_clients(prefix: str) -> None:
    writer, reader = RedisCache(REDIS_URL), RedisCache(REDIS_URL)
    try:
        await writer.set(prefix + "k", b"v", ttl_s=60)
        await invalidate_tag(writer, prefix + "tag")
        assert await reader.get(prefix + "k") == b"v"
        assert await tag_generation(reader, prefix + "tag") == 1
        raw = Redis.from_url(REDIS_URL)
        try:
            assert await raw.get(f"mercato:{prefix}k") == b"v"  # namespaced, in the configured database
            assert 0 < await raw.ttl(f"mercato:{prefix}k") <= 60
        finally:
            await raw.aclose()
    finally:
        await writer.close()
        await reader.close()


async def test_redis_outage_degrades_to_misses() -> None:
    dead = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    try:
        started = time.monotonic()
        await dead.set("k", b"v", ttl_s=60)
        assert await dead.get("k") is None
        await dead.delete("k")
        assert await tag_generation(dead, "catalog") == 0
        assert time.monotonic() - started < 10  # fails fast, never hangs a request
    finally:
        await dead.close()


def test_build_cache_picks_the_backend() -> None:
    assert isinstance(build_cache(Settings(REDIS_URL=REDIS_URL)), RedisCache)
    assert isinstance(build_cache(Settings(REDIS_URL=None)), MemoryCache)


async def test_memory_cache_is_bounded() -> None:
    cache = MemoryCache(max_items=3)
    for i in range(5):
        await cache.set(f"k{i}", b"v", ttl_s=60)
    assert [await cache.get(f"k{i}") for i in range(5)] == [None, None, b"v", b"v", b"v"]
