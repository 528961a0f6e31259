"""Inspect and re-drive outbox events (admin API and `mercato outbox`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import NotFound
from mercato.kit.outbox import EventStatus, OutboxEvent
from mercato.kit.pagination import Page, SortKey, keyset_page


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    dead: int
    oldest_pending_at: datetime | None

    @property
    def lag_seconds(self) -> float:
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (utcnow() - self.oldest_pending_at).total_seconds())


async def stats(session: AsyncSession) -> OutboxStats:
    rows = (
        await session.execute(
            # Only the small, partially indexed states: delivered events are never counted.
            # Lag counts from when an event became deliverable, so backoff waits are not "lag".
            select(OutboxEvent.status, func.count(), func.min(OutboxEvent.available_at))
            .where(OutboxEvent.status.in_([EventStatus.PENDING, EventStatus.DEAD]))
            .group_by(OutboxEvent.status)
        )
    ).all()
    by_status: dict[str, tuple[int, Any]] = {status: (count, oldest) for status, count, oldest in rows}
    return OutboxStats(
        pending=by_status.get(EventStatus.PENDING, (0, None))[0],
        dead=by_status.get(EventStatus.DEAD, (0, None))[0],
        oldest_pending_at=by_status.get(EventStatus.PENDING, (0, None))[1],
    )


async def list_events(
    session: AsyncSession, *, status: EventStatus | None, limit: int, cursor: str | None
) -> Page[OutboxEvent]:
    stmt = select(OutboxEvent)
    if status is not None:
        stmt = stmt.where(OutboxEvent.status == status)
    return await keyset_page(session, stmt, [SortKey(OutboxEvent.id, descending=True)], limit=limit, cursor=cursor)


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent:
    event = await session.get(OutboxEvent, event_id)
    if event is None:
        raise NotFound("No such event.", code="outbox.event_not_found")
    return event


async def retry(session: AsyncSession, event_ids: list[uuid.UUID] | None = None) -> int:
    """Put dead events (all, or the given ones) back in the queue with a fresh attempt budget."""
    stmt = (
        update(OutboxEvent)
        .where(OutboxEvent.status == EventStatus.DEAD)
        .values(status=EventStatus.PENDING, attempts=0, available_at=utcnow())
    )
    if event_ids is not None:
        stmt = stmt.where(OutboxEvent.id.in_(event_ids))
    result: Any = await session.execute(stmt)
    return int(result.rowcount or 0)
