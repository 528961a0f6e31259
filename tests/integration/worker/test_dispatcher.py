"""The outbox dispatcher against a real PostgreSQL: delivery, savepoint isolation, backoff, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit import outbox_admin
from mercato.kit.clock import utcnow
from mercato.kit.db import Database
from mercato.kit.outbox import DeliveredEvent, EventStatus, HandlerRegistry, OutboxEvent, ProcessedEvent, emit
from mercato.kit.settings import Settings
from mercato.worker import dispatcher as dispatcher_module
from mercato.worker.dispatcher import Dispatcher, backoff_delay

EFFECTS_DDL = (
    "CREATE TABLE dispatch_effects (event_id uuid NOT NULL, handler text NOT NULL, "
    "PRIMARY KEY (event_id, handler))"
)


@dataclass
class Recorder:
    """Handlers that write one effect row per (event, handler) and remember every call."""

    calls: list[tuple[str, DeliveredEvent]] = field(default_factory=list)

    def handler(self, label: str, *, fail: Callable[[DeliveredEvent], bool] | None = None) -> Any:
        async def handle(session: AsyncSession, event: DeliveredEvent) -> None:
            self.calls.append((label, event))
            await add_effect(session, event.id, label)
            if fail is not None and fail(event):
                # The same plain INSERT again: a unique violation, i.e. a failing write.
                await add_effect(session, event.id, label)

        return handle

    def count(self, label: str, event_id: uuid.UUID | None = None) -> int:
        return sum(1 for name, e in self.calls if name == label and (event_id is None or e.id == event_id))


async def add_effect(session: AsyncSession, event_id: uuid.UUID, handler: str) -> None:
    await session.execute(
        text("INSERT INTO dispatch_effects (event_id, handler) VALUES (:event_id, :handler)"),
        {"event_id": event_id, "handler": handler},
    )


@pytest.fixture
async def effects(session: AsyncSession) -> AsyncSession:
    """The test session, with an effects table that exists only inside the test's transaction."""
    await session.execute(text(EFFECTS_DDL))
    await session.commit()
    return session


@pytest.fixture
def make_dispatcher(
    engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Callable[..., Dispatcher]:
    def make(registry: HandlerRegistry, **overrides: Any) -> Dispatcher:
        return Dispatcher(Database(engine_db.engine, sessionmaker), registry, settings.model_copy(update=overrides))

    return make


async def event_row(session: AsyncSession, event_id: uuid.UUID) -> Any:
    return (await session.execute(select(OutboxEvent.__table__).where(OutboxEvent.id == event_id))).one()


async def effect_rows(session: AsyncSession) -> set[tuple[uuid.UUID, str]]:
    rows = await session.execute(text("SELECT event_id, handler FROM dispatch_effects"))
    return {(event_id, handler) for event_id, handler in rows.all()}


async def processed_rows(session: AsyncSession) -> set[tuple[str, uuid.UUID]]:
    rows = await session.execute(select(ProcessedEvent.handler, ProcessedEvent.event_id))
    return {(handler, event_id) for handler, event_id in rows.all()}


async def make_available(session: AsyncSession, *event_ids: uuid.UUID) -> None:
    """Skip the backoff wait: the event becomes claimable now."""
    await session.execute(
        text("UPDATE outbox_events SET available_at = :at WHERE id = ANY(:ids)"),
        {"at": utcnow() - timedelta(seconds=1), "ids": list(event_ids)},
    )
    await session.commit()


@dataclass(frozen=True)
class OrderPlaced:
    name: ClassVar[str] = "test.placed"
    order_id: uuid.UUID
    placed_at: datetime
    lines: tuple[str, ...]


async def test_event_is_delivered_once_to_every_handler(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    session = effects
    recorder = Recorder()
    registry = HandlerRegistry()
    registry.register("test.placed", recorder.handler("first"), name="first")
    registry.register("test.placed", recorder.handler("second"), name="second")
    registry.register("test.placed", recorder.handler("duplicate"), name="first")  # same name: ignored
    registry.register("test.other", recorder.handler("other"), name="other")
    assert [h.name for h in registry.for_event("test.placed")] == ["first", "second"]

    order_id = uuid.uuid4()
    placed_at = utcnow()
    placed = [await emit(session, OrderPlaced(order_id, placed_at, ("a", "b")))]
    placed += [await emit(session, {"n": i}, name="test.placed") for i in range(2)]
    other = await emit(session, {"x": 1}, name="test.other")
    await session.commit()

    dispatcher = make_dispatcher(registry)
    assert await dispatcher.run_batch() == 4

    for event_id in placed:
        assert recorder.count("first", event_id) == 1
        assert recorder.count("second", event_id) == 1
    assert recorder.count("other", other) == 1
    assert recorder.count("other") == 1
    assert recorder.count("duplicate") == 0
    first_delivery = next(e for label, e in recorder.calls if label == "first" and e.id == placed[0])
    assert first_delivery.name == "test.placed"
    assert first_delivery.attempt == 1
    assert first_delivery.payload == {
        "order_id": str(order_id), "placed_at": placed_at.isoformat(), "lines": ["a", "b"]
    }

    for event_id in [*placed, other]:
        row = await event_row(session, event_id)
        assert row.status == EventStatus.DONE
        assert row.attempts == 0
        assert row.processed_at is not None
        assert row.last_error is None
    expected = {(h, e) for e in placed for h in ("first", "second")} | {("other", other)}
    assert await processed_rows(session) == expected
    assert await effect_rows(session) == {(e, h) for h, e in expected}

    # Nothing is delivered twice.
    assert await dispatcher.run_batch() == 0
    assert len(recorder.calls) == 7


async def test_failing_handler_rolls_back_only_its_savepoint_and_is_retried_alone(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    session = effects
    broken = True
    recorder = Recorder()
    registry = HandlerRegistry()
    registry.register("test.placed", recorder.handler("ok"), name="ok")
    registry.register("test.placed", recorder.handler("flaky", fail=lambda _: broken), name="flaky")
    registry.register("test.other", recorder.handler("bystander"), name="bystander")
    event_id = await emit(session, {"n": 1}, name="test.placed")
    bystander_id = await emit(session, {"n": 2}, name="test.other")
    await session.commit()
    dispatcher = make_dispatcher(registry, outbox_max_attempts=3, outbox_backoff_base_s=10.0)

    before = utcnow()
    assert await dispatcher.run_batch() == 2
    after = utcnow()

    row = await event_row(session, event_id)
    assert row.status == EventStatus.PENDING
    assert row.attempts == 1
    assert row.last_error is not None
    assert "flaky" in row.last_error
    assert "duplicate key" in row.last_error
    assert before + timedelta(seconds=5) <= row.available_at <= after + timedelta(seconds=10)
    # The failed handler's first (successful) insert went with its savepoint; the other handler's stayed.
    assert await effect_rows(session) == {(event_id, "ok"), (bystander_id, "bystander")}
    assert await processed_rows(session) == {("ok", event_id), ("bystander", bystander_id)}
    # The rest of the batch committed normally.
    assert (await event_row(session, bystander_id)).status == EventStatus.DONE

    # Not due yet: backoff holds it back.
    assert await dispatcher.run_batch() == 0
    assert recorder.count("flaky") == 1

    await make_available(session, event_id)
    before = utcnow()
    assert await dispatcher.run_batch() == 1
    after = utcnow()
    row = await event_row(session, event_id)
    assert (row.status, row.attempts) == (EventStatus.PENDING, 2)
    assert before + timedelta(seconds=10) <= row.available_at <= after + timedelta(seconds=20)
    assert recorder.count("ok") == 1, "a handler that succeeded must not run again"
    assert recorder.count("flaky") == 2

    broken = False
    await make_available(session, event_id)
    assert await dispatcher.run_batch() == 1
    row = await event_row(session, event_id)
    assert row.status == EventStatus.DONE
    assert row.attempts == 2
    assert row.last_error is None
    assert row.processed_at is not None
    assert recorder.count("ok") == 1
    assert [e.attempt for label, e in recorder.calls if label == "flaky"] == [1, 2, 3]
    assert await effect_rows(session) == {(event_id, "ok"), (event_id, "flaky"), (bystander_id, "bystander")}
    assert await processed_rows(session) == {("ok", event_id), ("flaky", event_id), ("bystander", bystander_id)}


async def test_every_failure_in_a_batch_is_recorded(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """Later handlers' savepoint rollbacks must not undo the bookkeeping of earlier events in the batch."""
    session = effects
    recorder = Recorder()
    registry = HandlerRegistry()
    registry.register("test.placed", recorder.handler("h", fail=lambda e: e.payload["fail"]), name="h")
    flags = [True, False, True, True, False, True]
    ids = [await emit(session, {"fail": flag}, name="test.placed") for flag in flags]
    await session.commit()
    dispatcher = make_dispatcher(registry, outbox_max_attempts=3, outbox_backoff_base_s=30.0)

    assert await dispatcher.run_batch() == len(ids)

    now = utcnow()
    for event_id, fail in zip(ids, flags, strict=True):
        row = await event_row(session, event_id)
        if fail:
            assert (row.status, row.attempts) == (EventStatus.PENDING, 1)
            assert row.available_at > now + timedelta(seconds=10)
            assert row.last_error is not None
        else:
            assert (row.status, row.attempts) == (EventStatus.DONE, 0)
    assert await processed_rows(session) == {("h", e) for e, fail in zip(ids, flags, strict=True) if not fail}
    assert await dispatcher.run_batch() == 0


async def test_batches_are_claimed_in_order_and_limited_by_batch_size(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    session = effects
    recorder = Recorder()
    registry = HandlerRegistry()
    registry.register("test.placed", recorder.handler("h"), name="h")
    ids = [await emit(session, {"i": i}, name="test.placed") for i in range(5)]
    await session.commit()
    dispatcher = make_dispatcher(registry, outbox_batch_size=2)

    assert [await dispatcher.run_batch() for _ in range(4)] == [2, 2, 1, 0]
    assert [e.id for _, e in recorder.calls] == ids


async def test_event_fails_until_dead_and_retry_requeues_it(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    session = effects
    broken = True

    async def fragile(session: AsyncSession, event: DeliveredEvent) -> None:
        await add_effect(session, event.id, "fragile")
        if broken:
            raise RuntimeError("downstream is down")

    registry = HandlerRegistry()
    registry.register("test.placed", fragile, name="fragile")
    first = await emit(session, {"n": 1}, name="test.placed")
    second = await emit(session, {"n": 2}, name="test.placed")
    await session.commit()
    dispatcher = make_dispatcher(registry, outbox_max_attempts=3, outbox_backoff_base_s=60.0)

    for attempt in (1, 2, 3):
        assert await dispatcher.run_batch() == 2
        for event_id in (first, second):
            row = await event_row(session, event_id)
            assert row.attempts == attempt
            assert row.status == (EventStatus.DEAD if attempt == 3 else EventStatus.PENDING)
        await make_available(session, first, second)

    row = await event_row(session, first)
    assert row.last_error == "fragile: RuntimeError: downstream is down"
    assert row.processed_at is None
    # Dead letters are never claimed again, whatever their available_at.
    assert await dispatcher.run_batch() == 0
    assert await effect_rows(session) == set()
    stats = await outbox_admin.stats(session)
    assert (stats.pending, stats.dead) == (0, 2)
    dead = await outbox_admin.list_events(session, status=EventStatus.DEAD, limit=10, cursor=None)
    assert {e.id for e in dead.items} == {first, second}

    broken = False
    assert await outbox_admin.retry(session, [first]) == 1
    assert await outbox_admin.retry(session, [first]) == 0  # no longer dead
    assert await outbox_admin.retry(session, []) == 0
    await session.commit()
    row = await event_row(session, first)
    assert (row.status, row.attempts) == (EventStatus.PENDING, 0)
    assert row.available_at <= utcnow()
    assert (await event_row(session, second)).status == EventStatus.DEAD

    assert await dispatcher.run_batch() == 1
    assert (await event_row(session, first)).status == EventStatus.DONE

    assert await outbox_admin.retry(session) == 1
    await session.commit()
    assert await dispatcher.run_batch() == 1
    assert (await event_row(session, second)).status == EventStatus.DONE
    assert await effect_rows(session) == {(first, "fragile"), (second, "fragile")}
    stats = await outbox_admin.stats(session)
    assert (stats.pending, stats.dead) == (0, 0)


async def test_event_without_handler_is_marked_done(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    session = effects
    event_id = await emit(session, {"n": 1}, name="test.nobody_listens")
    await session.commit()
    dispatcher = make_dispatcher(HandlerRegistry())

    assert await dispatcher.run_batch() == 1
    row = await event_row(session, event_id)
    assert row.status == EventStatus.DONE
    assert row.processed_at is not None
    assert row.attempts == 0
    assert await processed_rows(session) == set()


async def test_handler_that_hangs_outside_the_database_times_out_and_the_batch_still_commits(
    effects: AsyncSession, make_dispatcher: Callable[..., Dispatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = effects
    monkeypatch.setattr(dispatcher_module, "HANDLER_TIMEOUT_S", 0.2)

    async def hangs(session: AsyncSession, event: DeliveredEvent) -> None:
        await add_effect(session, event.id, "hangs")
        await asyncio.sleep(5)  # e.g. a remote call that never answers

    recorder = Recorder()
    registry = HandlerRegistry()
    registry.register("test.placed", hangs, name="hangs")
    registry.register("test.placed", recorder.handler("after"), name="after")
    event_id = await emit(session, {"n": 1}, name="test.placed")
    other_id = await emit(session, {"n": 2}, name="test.placed")
    await session.commit()
    dispatcher = make_dispatcher(registry, outbox_max_attempts=3, outbox_backoff_base_s=60.0)

    async with asyncio.timeout(10):
        assert await dispatcher.run_batch() == 2

    for eid in (event_id, other_id):
        row = await event_row(session, eid)
        assert (row.status, row.attempts) == (EventStatus.PENDING, 1)
        assert row.last_error == "hangs: TimeoutError"
    # The hung handler's write was rolled back; the next handler of the same events still ran.
    assert await effect_rows(session) == {(event_id, "after"), (other_id, "after")}
    assert await processed_rows(session) == {("after", event_id), ("after", other_id)}


def test_backoff_grows_exponentially_and_is_capped() -> None:
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (10, 100.0)]:
        for _ in range(50):
            delay = backoff_delay(attempts, base_s=2.0, max_s=100.0).total_seconds()
            assert ceiling / 2 <= delay <= ceiling


@pytest.fixture
async def committed_db(fresh_database: Callable[[], str], settings: Settings) -> AsyncIterator[list[Database]]:
    """Two independent engines (two 'workers') on one committed database."""
    url = fresh_database()
    dbs = [Database.connect(url, settings, pool_size=2, max_overflow=0) for _ in range(2)]
    try:
        async with dbs[0].sessionmaker() as session, session.begin():
            await session.execute(text(EFFECTS_DDL))
        yield dbs
    finally:
        for db in dbs:
            await db.dispose()


async def test_concurrent_dispatchers_split_the_work_without_double_delivery(
    committed_db: list[Database], settings: Settings
) -> None:
    calls: dict[int, list[uuid.UUID]] = {0: [], 1: []}

    def handler(worker: int) -> Any:
        async def handle(session: AsyncSession, event: DeliveredEvent) -> None:
            calls[worker].append(event.id)
            await add_effect(session, event.id, "h")
            await asyncio.sleep(0.01)

        return handle

    async with committed_db[0].sessionmaker() as session, session.begin():
        ids = {await emit(session, {"i": i}, name="test.placed") for i in range(40)}

    dispatchers = []
    for worker, db in enumerate(committed_db):
        registry = HandlerRegistry()
        registry.register("test.placed", handler(worker), name="h")
        dispatchers.append(Dispatcher(db, registry, settings.model_copy(update={"outbox_batch_size": 10})))

    async def drain(dispatcher: Dispatcher) -> int:
        claimed = 0
        while n := await dispatcher.run_batch():
            claimed += n
        return claimed

    async with asyncio.timeout(30):
        counts = await asyncio.gather(*(drain(d) for d in dispatchers))

    assert sum(counts) == 40
    assert all(count > 0 for count in counts), counts
    assert not set(calls[0]) & set(calls[1])
    assert set(calls[0]) | set(calls[1]) == ids
    async with committed_db[1].sessionmaker() as session:
        assert len(await effect_rows(session)) == 40
        assert len(await processed_rows(session)) == 40
        pending = await session.scalar(
            select(OutboxEvent.id).where(OutboxEvent.status != EventStatus.DONE).limit(1)
        )
        assert pending is None


async def test_handler_cancelled_mid_query_aborts_the_batch_and_its_event_backs_off_to_dead(
    committed_db: list[Database], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout in the middle of a query kills the batch's connection: the batch is rolled back,
    the culprit is charged an attempt in a transaction of its own, and the others are redelivered."""
    monkeypatch.setattr(dispatcher_module, "HANDLER_TIMEOUT_S", 0.3)
    db = committed_db[0]

    async def stuck(session: AsyncSession, event: DeliveredEvent) -> None:
        await add_effect(session, event.id, "stuck")
        await session.execute(text("SELECT pg_sleep(10)"))

    recorder = Recorder()
    registry = HandlerRegistry()
    registry.register("test.placed", recorder.handler("ok"), name="ok")
    registry.register("test.stuck", stuck, name="stuck")
    async with db.sessionmaker() as session, session.begin():
        before = await emit(session, {"n": 1}, name="test.placed")
        culprit = await emit(session, {"n": 2}, name="test.stuck")
        after = await emit(session, {"n": 3}, name="test.placed")
    dispatcher = Dispatcher(db, registry, settings.model_copy(
        update={"outbox_max_attempts": 2, "outbox_backoff_base_s": 60.0}))

    async with asyncio.timeout(10):
        assert await dispatcher.run_batch() == 3
    async with db.sessionmaker() as session:
        row = await event_row(session, culprit)
        assert (row.status, row.attempts) == (EventStatus.PENDING, 1)
        assert row.last_error == "stuck: TimeoutError"
        assert row.available_at > utcnow() + timedelta(seconds=20)
        # The batch was rolled back as a whole, including the first event's delivered effect.
        for eid in (before, after):
            assert (await event_row(session, eid)).status == EventStatus.PENDING
        assert await effect_rows(session) == set()
        assert await processed_rows(session) == set()

    async with asyncio.timeout(10):
        assert await dispatcher.run_batch() == 2  # the two innocent events; the culprit backs off
        assert await dispatcher.run_batch() == 0
    async with db.sessionmaker() as session:
        assert (await event_row(session, before)).status == EventStatus.DONE
        assert (await event_row(session, after)).status == EventStatus.DONE
        assert await effect_rows(session) == {(before, "ok"), (after, "ok")}
        await make_available(session, culprit)

    async with asyncio.timeout(10):
        assert await dispatcher.run_batch() == 1
        assert await dispatcher.run_batch() == 0
    async with db.sessionmaker() as session:
        row = await event_row(session, culprit)
        assert (row.status, row.attempts) == (EventStatus.DEAD, 2)
        assert await effect_rows(session) == {(before, "ok"), (after, "ok")}
    assert recorder.count("ok", before) == 2  # redelivered once after the aborted batch
