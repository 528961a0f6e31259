"""In-process caches of several processes stay coherent through PostgreSQL notifications."""

from __future__ import annotations

import asyncio

from mercato.kit.cache import MemoryCache, invalidate_tag, tag_generation
from mercato.kit.cache_bus import TagBus


async def _eventually(predicate: object, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the timeout")


async def test_an_invalidation_in_one_process_reaches_the_others(database_url: str) -> None:
    api = MemoryCache(bus=TagBus(lambda: database_url))
    other_api = MemoryCache(bus=TagBus(lambda: database_url))
    worker = MemoryCache(bus=TagBus(lambda: database_url))  # publishes only, as worker handlers do
    api.listen()
    other_api.listen()
    try:
        await api.set("page", b"old", 60)
        # Both listeners must be connected before the bump: one that connects later misses it (and
        # drops its values instead, which this test does not look at).
        await _eventually(lambda: _listening(api, worker, "probe-a"))
        await _eventually(lambda: _listening(other_api, worker, "probe-b"))
        before = await tag_generation(other_api, "catalog:product:1")

        await invalidate_tag(worker, "catalog:product:1")

        async def seen_everywhere() -> bool:
            return (await tag_generation(api, "catalog:product:1") >= 1
                    and await tag_generation(other_api, "catalog:product:1") > before)

        await _eventually(seen_everywhere)
        assert await tag_generation(worker, "catalog:product:1") == 1  # its own bump, applied at once
    finally:
        for cache in (api, other_api, worker):
            await cache.close()


async def _listening(api: MemoryCache, worker: MemoryCache, probe: str) -> bool:
    """The listener is connected once a probe published by the worker arrives."""
    await invalidate_tag(worker, probe)
    return await tag_generation(api, probe) > 0


async def test_a_reconnecting_listener_drops_what_it_may_have_missed(database_url: str) -> None:
    api = MemoryCache(bus=TagBus(lambda: database_url))
    await api.set("page", b"cached before the listener connected", 60)
    api.listen()
    try:
        async def dropped() -> bool:
            return await api.get("page") is None

        await _eventually(dropped)
        assert await tag_generation(api, "never-bumped") == 0
    finally:
        await api.close()


async def test_publishing_with_the_database_away_degrades_to_local_only() -> None:
    cache = MemoryCache(bus=TagBus(lambda: "postgresql://postgres@127.0.0.1:1/nothing"))
    try:
        await invalidate_tag(cache, "catalog")
        assert await tag_generation(cache, "catalog") == 1
    finally:
        await cache.close()
