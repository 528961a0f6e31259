"""Rate-limit facade over the `limits` library: Redis when REDIS_URL is set, else process memory."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from mercato.kit.errors import RateLimited
from mercato.kit.settings import Settings

_log = structlog.get_logger("mercato.ratelimit")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int
    remaining: int


class RateLimiter:
    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, rule: str, *identifiers: str) -> Decision:
        """Count one hit against `rule` (e.g. "5/minute") for the given identifiers."""
        item = parse(rule)
        try:
            allowed = await self._limiter.hit(item, *identifiers)
            stats = await self._limiter.get_window_stats(item, *identifiers)
        except Exception as exc:
            # A rate-limit store outage must not take the endpoints down with it: fail open (the
            # per-account sign-in throttle lives in PostgreSQL and still applies) and say so.
            _log.warning("rate_limit_store_unavailable", rule=rule, error=type(exc).__name__)
            return Decision(True, 0, 0)
        retry_after = 0 if allowed else max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, retry_after, stats.remaining)

    async def peek(self, rule: str, *identifiers: str) -> Decision:
        """Whether one more hit would be allowed, without counting one: for limits on failures,
        checked before an attempt and `hit` only when the attempt failed."""
        item = parse(rule)
        try:
            allowed = await self._limiter.test(item, *identifiers)
            stats = await self._limiter.get_window_stats(item, *identifiers)
        except Exception as exc:
            _log.warning("rate_limit_store_unavailable", rule=rule, error=type(exc).__name__)
            return Decision(True, 0, 0)
        retry_after = 0 if allowed else max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, retry_after, stats.remaining)

    async def enforce(self, rule: str, *identifiers: str, code: str = "rate_limited") -> None:
        decision = await self.hit(rule, *identifiers)
        if not decision.allowed:
            raise RateLimited(code=code, retry_after_s=decision.retry_after_s)

    async def reset(self) -> None:
        await self._limiter.storage.reset()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        uri = settings.redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
        # redis-py is already a dependency; limits' default async client (coredis) is not installed.
        return RateLimiter(RedisStorage(uri, implementation="redispy"))
    return RateLimiter(MemoryStorage())
