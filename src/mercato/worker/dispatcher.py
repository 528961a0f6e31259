"""Claim pending outbox events with FOR UPDATE SKIP LOCKED and deliver them to their handlers.

A batch is one transaction. Each handler runs in a savepoint together with the insert of its
`(handler, event_id)` record: its writes and the record commit together or not at all. A worker
killed mid-batch therefore leaves nothing half-applied; its row locks vanish with its connection
and another worker redelivers the batch, skipping handlers already recorded.

A handler that breaks the batch's connection (typically: cancelled by the timeout in the middle of
a query, which makes SQLAlchemy invalidate the connection) aborts the whole batch; its failure is
then recorded on its event in a transaction of its own, so the event backs off and eventually
dead-letters instead of crashing every worker that claims it. A database that goes away is not
charged to any event: the error propagates and the worker waits for the database.
"""

from __future__ import annotations

import asyncio
import random
import traceback
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.db import AfterCommit, Database, run_after_commit, take_after_commit
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


class _BatchAborted(Exception):
    """The batch's connection is unusable after a handler failed; the batch must be rolled back."""

    def __init__(self, event_id: uuid.UUID, error: str) -> None:
        super().__init__(error)
        self.event_id = event_id
        self.error = error


class Dispatcher:
    def __init__(self, db: Database, registry: HandlerRegistry, settings: Settings) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings

    async def run_batch(self) -> int:
        """Deliver one batch; returns how many events it claimed."""
        callbacks: list[AfterCommit] = []
        try:
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
            callbacks = take_after_commit(session)  # the batch committed: now the side effects
        except _BatchAborted as aborted:
            # Everything the batch did is gone with its connection; the other events are simply
            # claimed again. Charge the failure to the event whose handler broke the connection.
            _log.warning("outbox_batch_aborted", event_id=str(aborted.event_id), error=aborted.error)
            await self._record_aborted(aborted.event_id, aborted.error)
            return len(events)
        await run_after_commit(callbacks)
        return len(events)

    async def _record_aborted(self, event_id: uuid.UUID, error: str) -> None:
        async with self.db.sessionmaker() as session, session.begin():
            event = (
                await session.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.id == event_id, OutboxEvent.status == EventStatus.PENDING)
                    # Claimed again by another worker already: that worker keeps the books.
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if event is not None:
                self._record_failure(event, [error])

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
            if not failures:
                event.status = EventStatus.DONE
                event.processed_at = utcnow()
                event.last_error = None
                return
            self._record_failure(event, failures)
        finally:
            request_id_var.reset(token)

    def _record_failure(self, event: OutboxEvent, failures: list[str]) -> None:
        event.attempts += 1
        event.last_error = "\n".join(failures)[-4000:]
        if event.attempts >= self.settings.outbox_max_attempts:
            event.status = EventStatus.DEAD
            _log.error("outbox_dead_letter", event_id=str(event.id), event_name=event.name,
                       attempts=event.attempts)
        else:
            event.available_at = utcnow() + backoff_delay(
                event.attempts, self.settings.outbox_backoff_base_s, self.settings.outbox_backoff_max_s
            )

    async def _run_handler(
        self, session: AsyncSession, handler: RegisteredHandler, event: DeliveredEvent
    ) -> str | None:
        registered = len(session.info.get("after_commit", []))
        try:
            async with session.begin_nested():
                await asyncio.wait_for(handler.func(session, event), timeout=HANDLER_TIMEOUT_S)
                session.add(ProcessedEvent(handler=handler.name, event_id=event.id, processed_at=utcnow()))
                await session.flush()
        except Exception as exc:
            # The handler's work was rolled back to its savepoint; so are its after-commit effects.
            del session.info.get("after_commit", [])[registered:]
            OUTBOX_PROCESSED.labels(handler.name, "error").inc()
            _log.warning("outbox_handler_failed", handler=handler.name, event_id=str(event.id),
                         event_name=event.name, attempt=event.attempt, error=repr(exc))
            error = "".join(traceback.format_exception_only(exc)).strip()
            if await _connection_lost(session):
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    raise  # the database went away: not the event's fault; the worker waits and retries
                raise _BatchAborted(event.id, f"{handler.name}: {error}") from exc
            return error
        OUTBOX_PROCESSED.labels(handler.name, "ok").inc()
        return None


async def _connection_lost(session: AsyncSession) -> bool:
    """Whether the batch's transaction can go on after a handler failed."""
    if not session.in_transaction():
        return True  # the handler committed or rolled back the batch's transaction itself
    try:
        connection = await session.connection()
    except SQLAlchemyError:
        return True
    return connection.invalidated
