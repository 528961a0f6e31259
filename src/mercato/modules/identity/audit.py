"""The security audit log: append-only entries for sign-ins, MFA, passwords, roles, API keys and
privacy requests. Failures are recorded in their own transaction so a rolled-back request keeps them."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidAuditFilter
from mercato.modules.identity.models import AuditEntry

EVENTS = frozenset({
    "login.succeeded", "login.failed", "login.throttled", "logout", "session.revoked", "session.reuse_detected",
    "password.changed", "password.reset_requested", "password.reset", "email.verified",
    "mfa.enabled", "mfa.disabled", "mfa.recovery_code_used", "mfa.recovery_codes_regenerated",
    "staff.created", "staff.updated", "role.created", "role.updated", "role.deleted", "staff.roles_changed",
    "api_key.created", "api_key.revoked", "privacy.export", "privacy.erasure", "customer.registered",
})


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


async def record(
    session: AsyncSession,
    event: str,
    *,
    actor: Actor | None = None,
    subject: tuple[str, str] | None = None,
    client: ClientInfo | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    session.add(
        AuditEntry(
            occurred_at=utcnow(), event=event,
            actor_kind=actor.kind if actor else None, actor_id=actor.id if actor else None,
            subject_kind=subject[0] if subject else None, subject_id=subject[1] if subject else None,
            ip=_ip(client.ip) if client else None,
            user_agent=(client.user_agent or "")[:400] or None if client else None,
            request_id=client.request_id if client else None,
            details=details or {},
        )
    )


async def record_detached(factory: async_sessionmaker[AsyncSession], event: str, **kwargs: Any) -> None:
    """Record in a transaction of its own (for failures, whose request transaction rolls back)."""
    async with factory() as session, session.begin():
        await record(session, event, **kwargs)


async def search(
    session: AsyncSession,
    *,
    event: str | None = None,
    actor_kind: str | None = None,
    actor_id: str | None = None,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntry]:
    """Newest first. An id filter needs its kind too, so every filter has an index to use."""
    if (actor_id and not actor_kind) or (subject_id and not subject_kind):
        field = "actor_kind" if actor_id and not actor_kind else "subject_kind"
        raise InvalidAuditFilter("Filtering by id needs the kind as well.",
                                 errors=[FieldError(field, "required", "Required with the matching *_id.")])
    stmt: Select[Any] = select(AuditEntry)
    if event:
        stmt = stmt.where(AuditEntry.event == event)
    if actor_kind:
        stmt = stmt.where(AuditEntry.actor_kind == actor_kind)
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if subject_kind:
        stmt = stmt.where(AuditEntry.subject_kind == subject_kind)
    if subject_id:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if since:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    keys = [SortKey(AuditEntry.occurred_at, descending=True), SortKey(AuditEntry.id, descending=True)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


async def entries_about(session: AsyncSession, kind: str, subject_id: str) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.subject_kind == kind, AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.occurred_at)
        .limit(10_000)
    )
    return list((await session.execute(stmt)).scalars())


async def purge_older_than(session: AsyncSession, age: timedelta) -> int:
    """The retention purge: the only deletion the append-only trigger lets through. The switch is
    turned off again at once, so nothing later in the same transaction can delete entries."""
    await session.execute(text("SELECT set_config('mercato.audit_purge', 'on', true)"))
    result: Any = await session.execute(delete(AuditEntry).where(AuditEntry.occurred_at < utcnow() - age))
    await session.execute(text("SELECT set_config('mercato.audit_purge', 'off', true)"))
    return int(result.rowcount or 0)
