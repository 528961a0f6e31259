"""Password sign-in shared by customers and staff: throttling, constant-work checks, the second
factor, auditing, and the session it starts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.errors import RateLimited
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, mfa, sessions, throttle
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidCredentials, MfaRequired
from mercato.modules.identity.passwords import hash_password_async, needs_rehash, verify_password_async
from mercato.modules.identity.tokens import KeyRing


class Account(Protocol):
    id: uuid.UUID
    email: str
    password_hash: str
    is_active: bool
    mfa_totp_secret: str | None
    mfa_pending_secret: str | None
    mfa_enabled_at: datetime | None
    mfa_last_step: int | None


@dataclass(frozen=True)
class SignInRequest:
    email: str
    password: str
    otp: str | None
    client: ClientInfo


async def begin(
    factory: async_sessionmaker[AsyncSession], *, kind: str, request: SignInRequest, settings: Settings
) -> throttle.Attempt:
    """Admit and count one attempt (429 while the account must wait). Call it before the request's
    session reads anything: it commits on its own."""
    try:
        return await throttle.begin_attempt(factory, throttle.throttle_key(kind, request.email),
                                            throttle.policy_from(settings))
    except RateLimited as exc:
        await audit.record_detached(factory, "login.throttled", actor=Actor("anonymous"), client=request.client,
                                    details={"kind": kind, "code": exc.code})
        raise


async def sign_in(
    session: AsyncSession,
    factory: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    account: Account | None,
    request: SignInRequest,
    permissions: list[str],
    settings: Settings,
    keyring: KeyRing,
    attempt: throttle.Attempt | None = None,
) -> sessions.TokenPair:
    """`account` is the one found by email, or None; both paths do the same work and say the same.

    `attempt` comes from `begin`; without it the attempt is begun here."""
    if attempt is None:
        attempt = await begin(factory, kind=kind, request=request, settings=settings)
    password_ok = await verify_password_async(account.password_hash if account else None, request.password)
    if account is None or not password_ok or not account.is_active:
        await _fail(session, factory, kind, account, request, reason="password")
        raise InvalidCredentials("Email or password is incorrect.")
    if account.mfa_enabled_at is not None:
        if not request.otp:
            # The password was right: not a failure, but not a sign-in yet either.
            await session.rollback()
            await throttle.forgive(factory, attempt)
            raise MfaRequired("Enter the code from your authenticator app (or a recovery code) as `otp`.")
        accepted, was_recovery = await mfa.second_factor_ok(session, kind, account, request.otp)
        if not accepted:
            await _fail(session, factory, kind, account, request, reason="otp")
            raise InvalidCredentials("The second-factor code is not valid.", code="auth.invalid_otp")
        if was_recovery:
            await audit.record(session, "mfa.recovery_code_used", actor=Actor(kind, str(account.id)),
                               subject=(kind, str(account.id)), client=request.client)
    await throttle.clear(session, attempt.key)
    if needs_rehash(account.password_hash):
        account.password_hash = await hash_password_async(request.password)
    pair = await sessions.start(session, kind=kind, subject_id=account.id, permissions=permissions,
                                client=request.client, settings=settings, keyring=keyring)
    await audit.record(session, "login.succeeded", actor=Actor(kind, str(account.id)),
                       subject=(kind, str(account.id)), client=request.client,
                       details={"session_id": str(pair.session_id)})
    return pair


async def _fail(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], kind: str, account: Account | None,
    request: SignInRequest, *, reason: str,
) -> None:
    """The attempt is already counted; audit it. The request's transaction is rolled back first:
    the answer is an error, so it would roll back anyway, and this way it holds no row locks (a
    recovery code's, say) and no connection while another transaction writes."""
    account_id = str(account.id) if account is not None else None
    await session.rollback()
    await audit.record_detached(
        factory, "login.failed", actor=Actor("anonymous"),
        subject=(kind, account_id) if account_id else None, client=request.client,
        details={"reason": reason, "known_account": account_id is not None},
    )
