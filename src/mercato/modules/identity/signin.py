"""Password sign-in shared by customers and staff: throttling, constant-work checks, the second
factor, auditing, and the session it starts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.settings import Settings
from mercato.modules.identity import audit, mfa, sessions, throttle
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidCredentials, MfaRequired
from mercato.modules.identity.passwords import hash_password, needs_rehash, verify_password
from mercato.modules.identity.rules import ThrottlePolicy
from mercato.modules.identity.tokens import KeyRing


class Account(Protocol):
    id: uuid.UUID
    email: str
    password_hash: str
    is_active: bool
    mfa_totp_secret: str | None
    mfa_pending_secret: str | None
    mfa_enabled_at: datetime | None


@dataclass(frozen=True)
class SignInRequest:
    email: str
    password: str
    otp: str | None
    client: ClientInfo


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
) -> sessions.TokenPair:
    """`account` is the one found by email, or None; both paths do the same work and say the same."""
    policy = throttle.policy_from(settings)
    key = throttle.throttle_key(kind, request.email)
    await throttle.check(session, key, policy)
    password_ok = verify_password(account.password_hash if account else None, request.password)
    if account is None or not password_ok or not account.is_active:
        await _fail(factory, key, policy, kind, account, request, reason="password")
        raise InvalidCredentials("Email or password is incorrect.")
    if account.mfa_enabled_at is not None:
        if not request.otp:
            raise MfaRequired("Enter the code from your authenticator app (or a recovery code) as `otp`.")
        accepted, was_recovery = await mfa.second_factor_ok(session, kind, account, request.otp)
        if not accepted:
            await _fail(factory, key, policy, kind, account, request, reason="otp")
            raise InvalidCredentials("The second-factor code is not valid.", code="auth.invalid_otp")
        if was_recovery:
            await audit.record(session, "mfa.recovery_code_used", actor=Actor(kind, str(account.id)),
                               subject=(kind, str(account.id)), client=request.client)
    await throttle.clear(session, key)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(request.password)
    pair = await sessions.start(session, kind=kind, subject_id=account.id, permissions=permissions,
                                client=request.client, settings=settings, keyring=keyring)
    await audit.record(session, "login.succeeded", actor=Actor(kind, str(account.id)),
                       subject=(kind, str(account.id)), client=request.client,
                       details={"session_id": str(pair.session_id)})
    return pair


async def _fail(
    factory: async_sessionmaker[AsyncSession], key: str, policy: ThrottlePolicy, kind: str,
    account: Account | None, request: SignInRequest, *, reason: str,
) -> None:
    await throttle.record_failure(factory, key, policy)
    await audit.record_detached(
        factory, "login.failed", actor=Actor("anonymous"),
        subject=(kind, str(account.id)) if account else None, client=request.client,
        details={"reason": reason, "known_account": account is not None},
    )
