"""Idempotency-Key storage with Stripe semantics (no HTTP here; see kit.web.routing for the glue).

A key is claimed in its own short transaction, so a concurrent duplicate sees it at once and gets
409. The stored response is written in the same transaction as the request's own changes, so
"changed but not recorded" cannot happen; if the process dies mid-request both roll back and the
claim's lock expires after `idempotency_lock_timeout_s`, letting a retry run again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, delete, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.clock import utcnow
from mercato.kit.db import Base
from mercato.kit.errors import Conflict, InvalidInput, MalformedRequest

MAX_KEY_LENGTH = 255


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class IdempotencyMismatch(InvalidInput):
    code = "idempotency.mismatch"


class IdempotencyInProgress(Conflict):
    code = "idempotency.in_progress"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise MalformedRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            code="idempotency.invalid_key",
        )
    return key


async def claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint_: str,
    ttl: timedelta,
    lock_timeout: timedelta,
) -> StoredResponse | None:
    """Claim `key` for this request. Returns a stored response to replay, or None to go ahead.

    Raises IdempotencyMismatch for a reused key with a different request, IdempotencyInProgress
    while another request holds it.
    """
    now = utcnow()
    inserted = await session.execute(
        insert(IdempotencyKey)
        .values(scope=scope, key=key, fingerprint=fingerprint_, locked_at=now, created_at=now,
                expires_at=now + ttl)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted.first() is not None:
        return None
    row = (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            .with_for_update()
        )
    ).scalar_one()
    if row.expires_at <= now:
        # Past its TTL but not purged yet: the key is free again, whatever it was used for.
        row.fingerprint = fingerprint_
        row.locked_at = now
        row.response_status = row.response_headers = row.response_body = None
        row.created_at = now
        row.expires_at = now + ttl
        return None
    if row.fingerprint != fingerprint_:
        raise IdempotencyMismatch(
            "This Idempotency-Key was used with a different request; use a new key."
        )
    if row.response_status is not None:
        return StoredResponse(row.response_status, dict(row.response_headers or {}), row.response_body or b"")
    if row.locked_at is not None and row.locked_at > now - lock_timeout:
        raise IdempotencyInProgress("A request with this Idempotency-Key is still being processed.")
    # The previous holder died without finishing (its changes rolled back): take the key over.
    row.locked_at = now
    row.expires_at = now + ttl
    return None


async def complete(
    session: AsyncSession, *, scope: str, key: str, response: StoredResponse
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(
            locked_at=None,
            response_status=response.status,
            response_headers=response.headers,
            response_body=response.body,
        )
    )


async def release(session: AsyncSession, *, scope: str, key: str) -> None:
    """Forget an unfinished claim so the client may retry with the same key."""
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.response_status.is_(None),
        )
    )


async def purge_expired(session: AsyncSession, *, batch: int = 5000) -> int:
    """Delete expired keys in bounded batches; returns how many went."""
    expired = (
        select(IdempotencyKey.scope, IdempotencyKey.key)
        .where(IdempotencyKey.expires_at < utcnow())
        .limit(batch)
        .with_for_update(skip_locked=True)
        .cte()
    )
    result: Any = await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.scope == expired.c.scope, IdempotencyKey.key == expired.c.key
        )
    )
    return int(result.rowcount or 0)
