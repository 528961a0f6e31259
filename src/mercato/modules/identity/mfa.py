"""TOTP second factor (RFC 6238 via pyotp) with single-use recovery codes stored as digests."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Protocol

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import Conflict, FieldError, InvalidInput
from mercato.modules.identity.models import RecoveryCode
from mercato.modules.identity.tokens import digest

ISSUER = "Mercato"
RECOVERY_CODES = 10


class MfaHolder(Protocol):
    id: uuid.UUID
    email: str
    mfa_totp_secret: str | None
    mfa_pending_secret: str | None
    mfa_enabled_at: datetime | None


class InvalidCode(InvalidInput):
    code = "mfa.invalid_code"


def totp_ok(secret: str, code: str) -> bool:
    code = code.strip().replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


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
    if holder.mfa_totp_secret and totp_ok(holder.mfa_totp_secret, code):
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
    if not totp_ok(holder.mfa_pending_secret, code):
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
    await session.execute(
        delete(RecoveryCode).where(RecoveryCode.subject_kind == kind, RecoveryCode.subject_id == holder.id)
    )
