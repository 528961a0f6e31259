"""Per-account sign-in throttling, stored in PostgreSQL so every API process sees the same count.

The key is a digest of (kind, email) whether or not the account exists, so throttling behaves the
same for real and made-up emails and reveals nothing.

An attempt is counted as a failure *before* the password is checked (`begin_attempt`), under a row
lock, and forgiven when it succeeds. Checking first and counting after the (slow) password check
would let a burst of parallel requests all pass the check before any of them is counted: the
throttle would then limit sequential guessing only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
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


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt already counted as a failure; `before` is the state it replaced."""

    key: str
    before: ThrottleState | None
    after: ThrottleState


async def _state(session: AsyncSession, key: str, *, lock: bool = False) -> ThrottleState | None:
    stmt = select(LoginThrottle).where(LoginThrottle.key == key)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        return None
    return ThrottleState(row.failures, row.last_failure_at, row.blocked_until)


def _refusal(state: ThrottleState | None, now: datetime, policy: ThrottlePolicy) -> RateLimited | None:
    wait = wait_before_attempt(state, now, policy)
    if wait <= timedelta(0):
        return None
    locked = state is not None and state.blocked_until is not None and state.blocked_until > now
    return RateLimited(
        "Too many failed sign-ins; this sign-in is locked for a while." if locked
        else "Too many failed sign-ins; wait before trying again.",
        code="auth.locked" if locked else "auth.throttled",
        retry_after_s=max(1, math.ceil(wait.total_seconds())),
    )


async def begin_attempt(factory: async_sessionmaker[AsyncSession], key: str, policy: ThrottlePolicy) -> Attempt:
    """Admit one attempt and count it as a failure, in a transaction of its own (the request's
    transaction rolls back when the attempt fails); raise RateLimited while the account must wait.

    The row lock serialises concurrent attempts on one account for the few statements here only,
    never across the password check."""
    async with factory() as session, session.begin():
        await session.execute(insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing())
        before = await _state(session, key, lock=True)
        now = utcnow()
        refusal = _refusal(before, now, policy)
        after = after_failure(before, now, policy)
        if refusal is None:
            await session.execute(
                update(LoginThrottle).where(LoginThrottle.key == key)
                .values(failures=after.failures, last_failure_at=after.last_failure_at,
                        blocked_until=after.blocked_until)
            )
    if refusal is not None:
        raise refusal
    # A row made just now reads back as failures=0 with no timestamps: the same as no row at all.
    if before is not None and before.failures == 0 and before.last_failure_at is None:
        before = None
    return Attempt(key, before, after)


async def forgive(factory: async_sessionmaker[AsyncSession], attempt: Attempt) -> None:
    """Undo `attempt`'s count when it turned out not to be a failure (the password was right but a
    second factor is still due). Only when nothing else was counted since: concurrent attempts
    keep their counts."""
    async with factory() as session, session.begin():
        unchanged = (LoginThrottle.key == attempt.key, LoginThrottle.failures == attempt.after.failures,
                     LoginThrottle.last_failure_at == attempt.after.last_failure_at)
        if attempt.before is None:
            await session.execute(delete(LoginThrottle).where(*unchanged))
        else:
            await session.execute(
                update(LoginThrottle).where(*unchanged)
                .values(failures=attempt.before.failures, last_failure_at=attempt.before.last_failure_at,
                        blocked_until=attempt.before.blocked_until)
            )


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
