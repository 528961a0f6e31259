"""Single-use emailed tokens (email verification, password reset), stored as digests."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.modules.identity.errors import InvalidOneTimeToken
from mercato.modules.identity.models import OneTimeToken
from mercato.modules.identity.tokens import digest, new_opaque_token


async def issue(session: AsyncSession, *, purpose: str, kind: str, subject_id: uuid.UUID, ttl: timedelta) -> str:
    """A new token; earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    await session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.subject_kind == kind, OneTimeToken.subject_id == subject_id,
               OneTimeToken.purpose == purpose, OneTimeToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_opaque_token()
    session.add(OneTimeToken(token_hash=digest(token), purpose=purpose, subject_kind=kind, subject_id=subject_id,
                             created_at=now, expires_at=now + ttl))
    await session.flush()
    return token


async def redeem(session: AsyncSession, *, purpose: str, kind: str, token: str) -> uuid.UUID:
    """Spend `token`; returns its subject. Unknown, used, expired and wrong-purpose tokens look alike."""
    row = (
        await session.execute(
            select(OneTimeToken).where(OneTimeToken.token_hash == digest(token)).with_for_update()
        )
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.purpose != purpose or row.subject_kind != kind or row.used_at is not None \
            or row.expires_at <= now:
        raise InvalidOneTimeToken(
            "This link is invalid or has expired; request a new one.",
            errors=[FieldError("token", "invalid", "Invalid, used or expired token.")],
        )
    row.used_at = now
    return row.subject_id
