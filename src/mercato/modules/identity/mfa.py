"""TOTP second factor (RFC 6238 via pyotp) with single-use recovery codes stored as digests.

Turning the factor off or replacing the recovery codes needs the password and a current code (or
a recovery code): a stolen access token alone must not be enough to strip the second factor.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Protocol

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound
from mercato.kit.ids import parse_id
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, throttle
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidCredentials, MfaNotEnabled, StaffNotFound
from mercato.modules.identity.models import Customer, RecoveryCode, StaffUser
from mercato.modules.identity.passwords import verify_password
from mercato.modules.identity.tokens import digest

ISSUER = "Mercato"
RECOVERY_CODES = 10


class MfaHolder(Protocol):
    id: uuid.UUID
    email: str
    mfa_totp_secret: str | None
    mfa_pending_secret: str | None
    mfa_enabled_at: datetime | None
    mfa_last_step: int | None


class InvalidCode(InvalidInput):
    code = "mfa.invalid_code"


def matching_step(secret: str, code: str) -> int | None:
    """The RFC 6238 time step (now, or one either side for clock drift) whose code is `code`."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = utcnow()
    current = totp.timecode(now)
    for offset in (0, -1, 1):
        if secrets.compare_digest(totp.generate_otp(current + offset), code):
            return current + offset
    return None


def accept_totp(holder: MfaHolder, secret: str, code: str) -> bool:
    """Accept a code once: a replayed (or older) step is refused even inside its window."""
    step = matching_step(secret, code)
    if step is None or (holder.mfa_last_step is not None and step <= holder.mfa_last_step):
        return False
    holder.mfa_last_step = step
    return True


def _normalise_recovery(code: str) -> str:
    return code.strip().replace("-", "").replace(" ", "").lower()


async def use_recovery_code(session: AsyncSession, kind: str, subject_id: uuid.UUID, code: str) -> bool:
    wanted = digest(_normalise_recovery(code))
    row = (
        await session.execute(
            select(RecoveryCode)
            .where(RecoveryCode.subject_kind == kind, RecoveryCode.subject_id == subject_id,
                   RecoveryCode.code_hash == wanted, RecoveryCode.used_at.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    row.used_at = utcnow()
    return True


async def second_factor_ok(session: AsyncSession, kind: str, holder: MfaHolder, code: str) -> tuple[bool, bool]:
    """(accepted, was_recovery_code)."""
    # Lock the account row: two sign-ins racing with one code must not both pass the replay check.
    await session.refresh(holder, attribute_names=["mfa_last_step", "mfa_totp_secret"], with_for_update=True)
    if holder.mfa_totp_secret and accept_totp(holder, holder.mfa_totp_secret, code):
        return True, False
    if await use_recovery_code(session, kind, holder.id, code):
        return True, True
    return False, False


def begin_enrolment(holder: MfaHolder) -> tuple[str, str]:
    """A new secret awaiting confirmation; returns (secret, otpauth:// provisioning URI for a QR code)."""
    if holder.mfa_enabled_at is not None:
        raise Conflict("Two-factor authentication is already on; disable it first.", code="mfa.already_enabled")
    secret = pyotp.random_base32()
    holder.mfa_pending_secret = secret
    return secret, pyotp.TOTP(secret).provisioning_uri(name=holder.email, issuer_name=ISSUER)


async def confirm_enrolment(session: AsyncSession, kind: str, holder: MfaHolder, code: str) -> list[str]:
    """Turn MFA on once the authenticator app proves it has the secret; returns the recovery codes."""
    if holder.mfa_pending_secret is None:
        raise Conflict("Start enrolment first.", code="mfa.not_pending")
    if not accept_totp(holder, holder.mfa_pending_secret, code):
        raise InvalidCode("That code is not valid.", errors=[FieldError("code", "invalid", "Wrong or expired code.")])
    holder.mfa_totp_secret, holder.mfa_pending_secret = holder.mfa_pending_secret, None
    holder.mfa_enabled_at = utcnow()
    return await new_recovery_codes(session, kind, holder.id)


async def new_recovery_codes(session: AsyncSession, kind: str, subject_id: uuid.UUID) -> list[str]:
    await session.execute(
        delete(RecoveryCode).where(RecoveryCode.subject_kind == kind, RecoveryCode.subject_id == subject_id)
    )
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    session.add_all(
        RecoveryCode(subject_kind=kind, subject_id=subject_id, code_hash=digest(_normalise_recovery(c)))
        for c in codes
    )
    await session.flush()
    return codes


async def disable(session: AsyncSession, kind: str, holder: MfaHolder) -> None:
    holder.mfa_totp_secret = None
    holder.mfa_pending_secret = None
    holder.mfa_enabled_at = None
    holder.mfa_last_step = None
    await session.execute(
        delete(RecoveryCode).where(RecoveryCode.subject_kind == kind, RecoveryCode.subject_id == holder.id)
    )


async def load_holder(session: AsyncSession, kind: str, subject_id: str) -> Customer | StaffUser:
    """The signed-in account, row-locked: enrolment steps of two concurrent requests must not interleave."""
    parsed = parse_id(subject_id)
    if kind == "customer":
        customer = None if parsed is None else await session.get(Customer, parsed, with_for_update=True)
        if customer is None or customer.erased_at is not None:
            raise NotFound("No such customer.", code="customer.not_found")
        return customer
    user = None if parsed is None else await session.get(StaffUser, parsed, with_for_update=True)
    if user is None:
        raise StaffNotFound("No such staff user.")
    return user


async def confirm(session: AsyncSession, kind: str, holder: MfaHolder, code: str, client: ClientInfo) -> list[str]:
    """confirm_enrolment plus the audit record."""
    codes = await confirm_enrolment(session, kind, holder, code)
    await audit.record(session, "mfa.enabled", actor=Actor(kind, str(holder.id)), subject=(kind, str(holder.id)),
                       client=client)
    return codes


async def reauthenticate(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], kind: str, subject_id: str, *,
    password: str, code: str, settings: Settings, client: ClientInfo,
) -> Customer | StaffUser:
    """Prove the signed-in holder is at the keyboard: the password and a second-factor code (TOTP or
    recovery code). Returns the holder, row-locked.

    Attempts count against a throttle of their own, so a stolen access token cannot be used to
    guess the password or the codes at leisure. Like a sign-in, the attempt is counted before
    anything is checked (and cleared on success), in a transaction of its own: so this must run
    before the request's session reads anything."""
    attempt = await throttle.begin_attempt(factory, throttle.throttle_key(f"{kind}:reauth", subject_id),
                                           throttle.policy_from(settings))
    holder = await load_holder(session, kind, subject_id)
    if holder.mfa_enabled_at is None:
        await throttle.forgive(factory, attempt)
        raise MfaNotEnabled("Two-factor authentication is not on.")
    if not verify_password(holder.password_hash, password):
        raise InvalidCredentials("The password is incorrect.", code="auth.invalid_password")
    accepted, was_recovery = await second_factor_ok(session, kind, holder, code)
    if not accepted:
        raise InvalidCredentials("The second-factor code is not valid.", code="auth.invalid_otp")
    await throttle.clear(session, attempt.key)
    if was_recovery:
        await audit.record(session, "mfa.recovery_code_used", actor=Actor(kind, str(holder.id)),
                           subject=(kind, str(holder.id)), client=client)
    return holder


async def turn_off(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], kind: str, subject_id: str, *,
    password: str, code: str, settings: Settings, client: ClientInfo,
) -> None:
    holder = await reauthenticate(session, factory, kind, subject_id, password=password, code=code,
                                  settings=settings, client=client)
    await disable(session, kind, holder)
    await audit.record(session, "mfa.disabled", actor=Actor(kind, str(holder.id)), subject=(kind, str(holder.id)),
                       client=client)


async def regenerate_recovery_codes(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], kind: str, subject_id: str, *,
    password: str, code: str, settings: Settings, client: ClientInfo,
) -> list[str]:
    """Replace every recovery code (the old ones stop working)."""
    holder = await reauthenticate(session, factory, kind, subject_id, password=password, code=code,
                                  settings=settings, client=client)
    codes = await new_recovery_codes(session, kind, holder.id)
    await audit.record(session, "mfa.recovery_codes_regenerated", actor=Actor(kind, str(holder.id)),
                       subject=(kind, str(holder.id)), client=client)
    return codes
