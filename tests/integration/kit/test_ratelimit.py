"""Rate limiting over process memory and a real Redis, and its HTTP answer (429 + Retry-After)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from limits.aio.storage import MemoryStorage
from redis.asyncio import Redis

from mercato.kit.errors import RateLimited
from mercato.kit.ratelimit import RateLimiter, build_rate_limiter
from mercato.kit.settings import Settings
from mercato.kit.web.routing import MercatoRoute

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def ident() -> AsyncIterator[str]:
    """An identifier unique to the test; its counters are removed from Redis afterwards."""
    unique = f"test-{uuid.uuid4().hex}"
    yield unique
    raw = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in raw.scan_iter(match=f"*{unique}*")]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return RateLimiter(MemoryStorage())
    return build_rate_limiter(Settings(REDIS_URL=REDIS_URL))


async def test_n_hits_allowed_then_refused(limiter: RateLimiter, ident: str) -> None:
    decisions = [await limiter.hit("3/minute", "login", ident) for _ in range(3)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.retry_after_s == 0 for d in decisions)

    refused = await limiter.hit("3/minute", "login", ident)
    assert not refused.allowed
    assert 1 <= refused.retry_after_s <= 60
    assert refused.remaining == 0
    assert not (await limiter.hit("3/minute", "login", ident)).allowed  # stays refused


async def test_peek_tells_without_counting(limiter: RateLimiter, ident: str) -> None:
    for _ in range(5):
        assert (await limiter.peek("2/minute", "coupon", ident)).allowed  # peeking uses nothing up
    for _ in range(2):
        await limiter.hit("2/minute", "coupon", ident)
    refused = await limiter.peek("2/minute", "coupon", ident)
    assert not refused.allowed
    assert 1 <= refused.retry_after_s <= 60


async def test_identifiers_and_rules_are_independent(limiter: RateLimiter, ident: str) -> None:
    for _ in range(2):
        assert (await limiter.hit("2/minute", "login", ident, "a")).allowed
    assert not (await limiter.hit("2/minute", "login", ident, "a")).allowed
    # Another client, another action, another rule: all untouched.
    assert (await limiter.hit("2/minute", "login", ident, "b")).allowed
    assert (await limiter.hit("2/minute", "signup", ident, "a")).allowed
    assert (await limiter.hit("5/minute", "login", ident, "a")).allowed


async def test_window_moves_on(limiter: RateLimiter, ident: str) -> None:
    assert (await limiter.hit("1/second", ident)).allowed
    refused = await limiter.hit("1/second", ident)
    assert not refused.allowed
    assert refused.retry_after_s == 1
    await asyncio.sleep(1.1)
    assert (await limiter.hit("1/second", ident)).allowed


async def test_enforce_raises_rate_limited(limiter: RateLimiter, ident: str) -> None:
    await limiter.enforce("2/minute", ident)
    await limiter.enforce("2/minute", ident)
    with pytest.raises(RateLimited) as info:
        await limiter.enforce("2/minute", ident, code="auth.too_many_attempts")
    assert info.value.code == "auth.too_many_attempts"
    assert 1 <= info.value.retry_after_s <= 60
    with pytest.raises(RateLimited) as default:
        await limiter.enforce("2/minute", ident)
    assert default.value.code == "rate_limited"


async def test_redis_limits_are_shared_between_processes(ident: str) -> None:
    """Two limiters over one Redis (as two server processes would be) count together."""
    settings = Settings(REDIS_URL=REDIS_URL)
    first, second = build_rate_limiter(settings), build_rate_limiter(settings)
    assert (await first.hit("2/minute", ident)).allowed
    assert (await second.hit("2/minute", ident)).allowed
    assert not (await first.hit("2/minute", ident)).allowed
    assert not (await second.hit("2/minute", ident)).allowed


async def test_memory_limiters_are_separate() -> None:
    first, second = RateLimiter(MemoryStorage()), RateLimiter(MemoryStorage())
    assert (await first.hit("1/minute", "x")).allowed
    assert (await second.hit("1/minute", "x")).allowed
    await first.reset()
    assert (await first.hit("1/minute", "x")).allowed


async def test_limiter_for_redis_url_stores_in_redis(ident: str) -> None:
    # Building the limiter for a REDIS_URL must work with the installed client (redis-py).
    limiter = build_rate_limiter(Settings(REDIS_URL=REDIS_URL))
    assert (await limiter.hit("1000/minute", ident)).allowed
    raw = Redis.from_url(REDIS_URL)
    try:
        assert [key async for key in raw.scan_iter(match=f"LIMITS:*{ident}*")]
    finally:
        await raw.aclose()


async def test_http_answer_is_429_problem_with_retry_after(app: FastAPI, client: httpx.AsyncClient) -> None:
    router = APIRouter(route_class=MercatoRoute)

    @router.get("/test/limited")
    async def limited(request: Request) -> dict[str, bool]:
        await request.app.state.rate_limiter.enforce("2/minute", "test")
        return {"ok": True}

    app.include_router(router)

    for _ in range(2):
        ok = await client.get("/test/limited")
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"ok": True}
    refused = await client.get("/test/limited")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["status"] == 429
    assert body["code"] == "rate_limited"
    assert body["request_id"] == refused.headers["x-request-id"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_a_dead_store_fails_open_instead_of_failing_requests() -> None:
    from mercato.kit.ratelimit import build_rate_limiter

    limiter = build_rate_limiter(Settings(REDIS_URL="redis://127.0.0.1:1/0"))
    decisions = [await limiter.hit("1/minute", "dead-store") for _ in range(3)]
    assert all(d.allowed for d in decisions)
    await limiter.enforce("1/minute", "dead-store")  # does not raise


def test_a_malformed_rate_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from mercato.kit.settings import ConfigurationError, load_settings

    monkeypatch.setenv("MERCATO_RATE_LIMIT_LOGIN", "lots")
    with pytest.raises(ConfigurationError, match="MERCATO_RATE_LIMIT_LOGIN"):
        load_settings()
