"""Housekeeping jobs for kit's own tables."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit import idempotency
from mercato.kit.clock import utcnow
from mercato.kit.jobs import periodic
from mercato.kit.outbox import EventStatus, OutboxEvent, ProcessedEvent
from mercato.kit.settings import get_settings


@periodic("kit.purge_idempotency_keys", every=timedelta(minutes=10))
async def purge_idempotency_keys(session: AsyncSession) -> int:
    return await idempotency.purge_expired(session)


@periodic("kit.purge_delivered_events", every=timedelta(hours=1))
async def purge_delivered_events(session: AsyncSession, *, batch: int = 10_000) -> int:
    """Drop delivered events (and their dedupe records) past the retention period."""
    cutoff = utcnow() - timedelta(days=get_settings().outbox_retention_days)
    ids = (
        await session.execute(
            select(OutboxEvent.id)
            .where(OutboxEvent.status == EventStatus.DONE, OutboxEvent.processed_at < cutoff)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).scalars().all()
    if not ids:
        return 0
    await session.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(ids)))
    result: Any = await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
    return int(result.rowcount or 0)
