"""Signed-in sessions: an access token (JWT, 15 min) plus a rotating opaque refresh token.

Each refresh spends the presented token and issues a new one. A spent token presented again means
it was stolen (or replayed), so the whole family — the session — is revoked. Sessions end when idle
too long or past their absolute lifetime. Revocation is cached so that authenticating a request
costs no query beyond a cache look-up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.db import after_commit
from mercato.kit.settings import Settings
from mercato.modules.identity import audit
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidToken
from mercato.modules.identity.models import AuthSession, RefreshToken
from mercato.modules.identity.tokens import KeyRing, digest, new_opaque_token

_CACHE_ACTIVE = b"1"
_CACHE_REVOKED = b"0"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret


def lifetimes(kind: str, settings: Settings) -> tuple[timedelta, timedelta]:
    if kind == "staff":
        return timedelta(seconds=settings.staff_session_idle_s), timedelta(seconds=settings.staff_session_absolute_s)
    return timedelta(seconds=settings.customer_session_idle_s), timedelta(seconds=settings.customer_session_absolute_s)


def _cache_key(session_id: str | uuid.UUID) -> str:
    return f"auth:session:{session_id}"


async def start(
    session: AsyncSession, *, kind: str, subject_id: uuid.UUID, permissions: list[str], client: ClientInfo,
    settings: Settings, keyring: KeyRing,
) -> TokenPair:
    idle, absolute = lifetimes(kind, settings)
    now = utcnow()
    auth_session = AuthSession(
        id=uuid.UUID(bytes=uuid.uuid4().bytes), subject_kind=kind, subject_id=subject_id, created_at=now,
        last_seen_at=now, idle_expires_at=min(now + idle, now + absolute), absolute_expires_at=now + absolute,
        ip=client.ip, user_agent=(client.user_agent or "")[:400] or None,
    )
    session.add(auth_session)
    refresh = new_opaque_token("rt_")
    session.add(RefreshToken(token_hash=digest(refresh), session_id=auth_session.id, issued_at=now))
    await session.flush()
    return _pair(auth_session, refresh, permissions, settings, keyring)


def _pair(auth_session: AuthSession, refresh: str, permissions: list[str], settings: Settings,
          keyring: KeyRing) -> TokenPair:
    ttl = timedelta(seconds=settings.access_token_ttl_s)
    access = keyring.issue(subject=str(auth_session.subject_id), kind=auth_session.subject_kind,
                           session_id=str(auth_session.id), permissions=permissions, ttl=ttl)
    return TokenPair(access, refresh, settings.access_token_ttl_s, auth_session.id)


@dataclass(frozen=True)
class Rotation:
    auth_session: AuthSession
    refresh_token: str


async def rotate(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], cache: Cache, refresh_token: str,
    *, client: ClientInfo, kind: str | None = None,
) -> Rotation:
    """Spend `refresh_token` and return its session with a fresh refresh token. With `kind`, a
    token of another kind of session is refused before anything is spent."""
    row = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token)).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise InvalidToken("Unknown refresh token.", code="auth.invalid_refresh_token")
    if row.used_at is not None:
        await _reuse_detected(session, factory, cache, row.session_id, client)
    # Locked after the token (always in this order) so that rotations of one session serialise.
    auth_session = (
        await session.execute(select(AuthSession).where(AuthSession.id == row.session_id).with_for_update())
    ).scalar_one()
    if kind is not None and auth_session.subject_kind != kind:
        raise InvalidToken(f"Not a {kind} session.", code="auth.invalid_refresh_token")
    now = utcnow()
    if not is_active(auth_session, now):
        raise InvalidToken("The session has ended; sign in again.", code="auth.session_expired")
    row.used_at = now
    fresh = new_opaque_token("rt_")
    session.add(RefreshToken(token_hash=digest(fresh), session_id=auth_session.id, issued_at=now))
    idle = auth_session.idle_expires_at - auth_session.last_seen_at
    auth_session.last_seen_at = now
    auth_session.idle_expires_at = min(now + idle, auth_session.absolute_expires_at)
    await session.flush()
    return Rotation(auth_session, fresh)


async def _reuse_detected(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], cache: Cache, session_id: uuid.UUID,
    client: ClientInfo,
) -> NoReturn:
    """A spent token presented again: someone else holds a copy. Kill the family and answer 401.

    The revocation must outlive this request, whose transaction rolls back on the 401, so it is
    written in a transaction of its own — after this one is rolled back: while it held the token's
    row lock (or the session's), that other transaction could wait on it forever."""
    subject = (
        await session.execute(select(AuthSession.subject_kind, AuthSession.subject_id)
                              .where(AuthSession.id == session_id))
    ).one()
    await session.rollback()
    await revoke(factory, cache, session_id, reason="refresh_reuse")
    await audit.record_detached(
        factory, "session.reuse_detected", actor=Actor(subject.subject_kind, str(subject.subject_id)),
        subject=(subject.subject_kind, str(subject.subject_id)), client=client,
        details={"session_id": str(session_id)},
    )
    raise InvalidToken("This refresh token was already used; the session is revoked.",
                       code="auth.refresh_token_reused")


def issue_for(auth_session: AuthSession, refresh: str, permissions: list[str], settings: Settings,
              keyring: KeyRing) -> TokenPair:
    return _pair(auth_session, refresh, permissions, settings, keyring)


def is_active(auth_session: AuthSession, now: object = None) -> bool:
    moment = utcnow() if now is None else now
    return (
        auth_session.revoked_at is None
        and auth_session.idle_expires_at > moment  # type: ignore[operator]
        and auth_session.absolute_expires_at > moment  # type: ignore[operator]
    )


async def revoke(
    factory_or_session: async_sessionmaker[AsyncSession] | AsyncSession, cache: Cache,
    session_id: uuid.UUID, *, reason: str,
) -> None:
    stmt = (
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason)
    )
    if isinstance(factory_or_session, AsyncSession):
        await factory_or_session.execute(stmt)
        await _mark_revoked_after_commit(factory_or_session, cache, [session_id])
    else:
        async with factory_or_session() as s, s.begin():
            await s.execute(stmt)
        await cache.set(_cache_key(session_id), _CACHE_REVOKED, ttl_s=86_400)


async def _mark_revoked_after_commit(session: AsyncSession, cache: Cache, session_ids: list[uuid.UUID]) -> None:
    """Forget cached "active" answers now, and record "revoked" only once the revocation commits:
    a rolled-back request must not leave live sessions cached as revoked."""
    for session_id in session_ids:
        await cache.delete(_cache_key(session_id))

    async def mark() -> None:
        for session_id in session_ids:
            await cache.set(_cache_key(session_id), _CACHE_REVOKED, ttl_s=86_400)

    after_commit(session, mark)


async def revoke_all(session: AsyncSession, cache: Cache, kind: str, subject_id: uuid.UUID, *, reason: str,
                     except_session: uuid.UUID | None = None) -> int:
    stmt = select(AuthSession.id).where(
        AuthSession.subject_kind == kind, AuthSession.subject_id == subject_id, AuthSession.revoked_at.is_(None)
    )
    if except_session is not None:
        stmt = stmt.where(AuthSession.id != except_session)
    ids = list((await session.execute(stmt)).scalars())
    if ids:
        await session.execute(
            update(AuthSession).where(AuthSession.id.in_(ids)).values(revoked_at=utcnow(), revoke_reason=reason)
        )
    await _mark_revoked_after_commit(session, cache, ids)
    return len(ids)


async def list_active(session: AsyncSession, kind: str, subject_id: uuid.UUID) -> list[AuthSession]:
    now = utcnow()
    stmt = (
        select(AuthSession)
        .where(AuthSession.subject_kind == kind, AuthSession.subject_id == subject_id,
               AuthSession.revoked_at.is_(None), AuthSession.idle_expires_at > now,
               AuthSession.absolute_expires_at > now)
        .order_by(AuthSession.last_seen_at.desc())
        .limit(100)
    )
    return list((await session.execute(stmt)).scalars())


async def session_is_active(factory: async_sessionmaker[AsyncSession], cache: Cache, session_id: str,
                            cache_ttl_s: int) -> bool:
    """The per-request revocation check: a cache hit, or one primary-key read cached for a few seconds."""
    cached = await cache.get(_cache_key(session_id))
    if cached is not None:
        return cached == _CACHE_ACTIVE
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        return False
    async with factory() as s:
        row = await s.get(AuthSession, parsed)
        active = row is not None and is_active(row)
    if cache_ttl_s > 0:
        await cache.set(_cache_key(session_id), _CACHE_ACTIVE if active else _CACHE_REVOKED, ttl_s=cache_ttl_s)
    return active
