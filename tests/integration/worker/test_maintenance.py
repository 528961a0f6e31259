"""Housekeeping: delivered events and their dedupe records go after the retention period; nothing else does."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.ids import new_id
from mercato.kit.jobs import registered_jobs
from mercato.kit.maintenance import purge_delivered_events
from mercato.kit.outbox import EventStatus, OutboxEvent, ProcessedEvent
from mercato.kit.settings import get_settings


async def add(session: AsyncSession, status: EventStatus, age: timedelta, *, handlers: int = 0) -> uuid.UUID:
    at = utcnow() - age
    event_id = new_id()
    session.add(OutboxEvent(
        id=event_id, name="test.housekeeping", payload={}, status=status, attempts=0, created_at=at,
        available_at=at, processed_at=at if status == EventStatus.DONE else None,
    ))
    for i in range(handlers):
        session.add(ProcessedEvent(handler=f"h{i}", event_id=event_id, processed_at=at))
    await session.flush()
    return event_id


async def test_purge_removes_only_old_delivered_events_and_their_records(session: AsyncSession) -> None:
    retention = timedelta(days=get_settings().outbox_retention_days)
    old_done = [await add(session, EventStatus.DONE, retention + timedelta(days=1), handlers=2) for _ in range(3)]
    recent_done = await add(session, EventStatus.DONE, retention - timedelta(hours=1), handlers=1)
    old_pending = await add(session, EventStatus.PENDING, retention * 4)
    old_dead = await add(session, EventStatus.DEAD, retention * 4, handlers=1)
    await session.commit()

    assert await purge_delivered_events(session, batch=2) == 2
    assert await purge_delivered_events(session, batch=2) == 1
    assert await purge_delivered_events(session, batch=2) == 0
    await session.commit()

    remaining = set((await session.execute(select(OutboxEvent.id))).scalars())
    assert remaining == {recent_done, old_pending, old_dead}
    records = set((await session.execute(select(ProcessedEvent.event_id))).scalars())
    assert records == {recent_done, old_dead}
    assert not remaining & set(old_done)


def test_housekeeping_jobs_are_registered() -> None:
    jobs = {job.name: job for job in registered_jobs()}
    assert jobs["kit.purge_delivered_events"].every == timedelta(hours=1)
    assert jobs["kit.purge_delivered_events"].func is purge_delivered_events
    assert "kit.purge_idempotency_keys" in jobs
