"""Per-account sign-in throttling, stored in PostgreSQL so every API process sees the same count.

The key is a digest of (kind, email) whether or not the account exists, so throttling behaves the
same for real and made-up emails and reveals nothing.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.errors import RateLimited
from mercato.kit.settings import Settings
from mercato.modules.identity.models import LoginThrottle
from mercato.modules.identity.rules import ThrottlePolicy, ThrottleState, after_failure, wait_before_attempt


def policy_from(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        free_failures=settings.login_free_failures,
        lock_after=settings.login_lock_after,
        lock=timedelta(seconds=settings.login_lock_s),
        max_delay=timedelta(seconds=settings.login_max_delay_s),
    )


def throttle_key(kind: str, email: str) -> str:
    return hashlib.sha256(f"{kind}:{email}".encode()).hexdigest()


async def _state(session: AsyncSession, key: str, *, lock: bool = False) -> ThrottleState | None:
    stmt = select(LoginThrottle).where(LoginThrottle.key == key)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        return None
    return ThrottleState(row.failures, row.last_failure_at, row.blocked_until)


async def check(session: AsyncSession, key: str, policy: ThrottlePolicy) -> None:
    """Raise RateLimited (429 + Retry-After) while the account must wait."""
    state = await _state(session, key)
    now = utcnow()
    wait = wait_before_attempt(state, now, policy)
    if wait > timedelta(0):
        locked = state is not None and state.blocked_until is not None and state.blocked_until > now
        raise RateLimited(
            "Too many failed sign-ins; wait before trying again." if not locked
            else "Too many failed sign-ins; this sign-in is locked for a while.",
            code="auth.locked" if locked else "auth.throttled",
            retry_after_s=math.ceil(wait.total_seconds()),
        )


async def record_failure(factory: async_sessionmaker[AsyncSession], key: str, policy: ThrottlePolicy) -> None:
    """Count a failure in its own transaction (the request's own transaction rolls back)."""
    async with factory() as session, session.begin():
        await session.execute(insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing())
        state = await _state(session, key, lock=True)
        new = after_failure(state, utcnow(), policy)
        row = await session.get(LoginThrottle, key)
        assert row is not None
        row.failures, row.last_failure_at, row.blocked_until = new.failures, new.last_failure_at, new.blocked_until


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
