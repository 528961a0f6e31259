"""Identity housekeeping: audit-log retention and the sweep of spent tokens and stale throttles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.jobs import periodic
from mercato.modules.identity import audit
from mercato.modules.identity.models import AuthSession, LoginThrottle, OneTimeToken, RefreshToken

AUDIT_RETENTION = timedelta(days=365)
# A throttle row idle this long carries no information the policy still uses.
THROTTLE_IDLE = timedelta(days=1)
# Ended sessions stay listed this long (for "where was I signed in" and investigations).
ENDED_SESSION_RETENTION = timedelta(days=30)


@periodic("identity.purge_audit_log", every=timedelta(days=1))
async def purge_audit_log(session: AsyncSession, *, keep: timedelta = AUDIT_RETENTION) -> int:
    return await audit.purge_older_than(session, keep)


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


@periodic("identity.purge_expired_tokens", every=timedelta(hours=1))
async def purge_expired_tokens(session: AsyncSession) -> dict[str, int]:
    """Delete what can never be presented successfully again:
    - one-time tokens that are used or expired;
    - refresh tokens of ended sessions (revoked, idle too long or past their lifetime) — those of
      live sessions stay, spent ones included, because presenting a spent one is how reuse is
      detected;
    - sessions that ended more than ENDED_SESSION_RETENTION ago;
    - sign-in throttle rows idle for more than a day and not locked.
    """
    now = utcnow()
    ended = or_(AuthSession.revoked_at.is_not(None), AuthSession.idle_expires_at <= now,
                AuthSession.absolute_expires_at <= now)
    one_time = await session.execute(
        delete(OneTimeToken).where(or_(OneTimeToken.used_at.is_not(None), OneTimeToken.expires_at <= now))
    )
    refresh = await session.execute(
        delete(RefreshToken).where(RefreshToken.session_id.in_(select(AuthSession.id).where(ended)))
    )
    cutoff = now - ENDED_SESSION_RETENTION
    old_sessions = await session.execute(
        delete(AuthSession).where(or_(AuthSession.revoked_at < cutoff, AuthSession.idle_expires_at < cutoff,
                                      AuthSession.absolute_expires_at < cutoff))
    )
    idle = now - THROTTLE_IDLE
    throttles = await session.execute(
        delete(LoginThrottle).where(
            or_(LoginThrottle.last_failure_at.is_(None), LoginThrottle.last_failure_at < idle),
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
    )
    return {"one_time_tokens": _rows(one_time), "refresh_tokens": _rows(refresh),
            "sessions": _rows(old_sessions), "login_throttles": _rows(throttles)}
