"""Claim pending outbox events with FOR UPDATE SKIP LOCKED and deliver them to their handlers.

A batch is one transaction. Each handler runs in a savepoint together with the insert of its
`(handler, event_id)` record: its writes and the record commit together or not at all. A worker
killed mid-batch therefore leaves nothing half-applied; its row locks vanish with its connection
and another worker redelivers the batch, skipping handlers already recorded.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.db import Database
from mercato.kit.logging import request_id_var
from mercato.kit.metrics import OUTBOX_PROCESSED
from mercato.kit.outbox import (
    DeliveredEvent,
    EventStatus,
    HandlerRegistry,
    OutboxEvent,
    ProcessedEvent,
    RegisteredHandler,
)
from mercato.kit.settings import Settings

_log = structlog.get_logger("mercato.worker")
HANDLER_TIMEOUT_S = 60.0


def backoff_delay(attempts: int, base_s: float, max_s: float) -> timedelta:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**(n-1), capped."""
    ceiling = min(max_s, base_s * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto


class Dispatcher:
    def __init__(self, db: Database, registry: HandlerRegistry, settings: Settings) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings

    async def run_batch(self) -> int:
        """Deliver one batch; returns how many events it claimed."""
        async with self.db.sessionmaker() as session, session.begin():
            events = (
                await session.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.status == EventStatus.PENDING, OutboxEvent.available_at <= utcnow())
                    .order_by(OutboxEvent.available_at, OutboxEvent.id)
                    .limit(self.settings.outbox_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).scalars().all()
            if not events:
                return 0
            done = await self._already_processed(session, [e.id for e in events])
            for event in events:
                await self._deliver(session, event, done)
        return len(events)

    @staticmethod
    async def _already_processed(session: AsyncSession, ids: list[object]) -> set[tuple[str, object]]:
        rows = await session.execute(
            select(ProcessedEvent.handler, ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(ids))
        )
        return {(handler, event_id) for handler, event_id in rows.all()}

    async def _deliver(self, session: AsyncSession, event: OutboxEvent, done: set[tuple[str, object]]) -> None:
        token = request_id_var.set(event.request_id or "")
        try:
            delivered = DeliveredEvent(event.id, event.name, dict(event.payload), event.created_at,
                                       event.attempts + 1)
            failures: list[str] = []
            for handler in self.registry.for_event(event.name):
                if (handler.name, event.id) in done:
                    continue
                error = await self._run_handler(session, handler, delivered)
                if error is not None:
                    failures.append(f"{handler.name}: {error}")
            now = utcnow()
            if not failures:
                event.status = EventStatus.DONE
                event.processed_at = now
                event.last_error = None
                return
            event.attempts += 1
            event.last_error = "\n".join(failures)[-4000:]
            if event.attempts >= self.settings.outbox_max_attempts:
                event.status = EventStatus.DEAD
                _log.error("outbox_dead_letter", event_id=str(event.id), event_name=event.name,
                           attempts=event.attempts)
            else:
                event.available_at = now + backoff_delay(
                    event.attempts, self.settings.outbox_backoff_base_s, self.settings.outbox_backoff_max_s
                )
        finally:
            request_id_var.reset(token)

    async def _run_handler(
        self, session: AsyncSession, handler: RegisteredHandler, event: DeliveredEvent
    ) -> str | None:
        try:
            async with session.begin_nested():
                await asyncio.wait_for(handler.func(session, event), timeout=HANDLER_TIMEOUT_S)
                session.add(ProcessedEvent(handler=handler.name, event_id=event.id, processed_at=utcnow()))
                await session.flush()
        except Exception as exc:
            OUTBOX_PROCESSED.labels(handler.name, "error").inc()
            _log.warning("outbox_handler_failed", handler=handler.name, event_id=str(event.id),
                         event_name=event.name, attempt=event.attempt, error=repr(exc))
            return "".join(traceback.format_exception_only(exc)).strip()
        OUTBOX_PROCESSED.labels(handler.name, "ok").inc()
        return None
