"""Transactional outbox: events are rows written in the same transaction as the change they report.

`emit(session, event)` never talks to the network; `mercato worker` delivers each event to every
handler registered for its name, at least once, and records `(handler, event_id)` in the same
transaction as the handler's own writes so a redelivered event has no second effect.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import orjson
from sqlalchemy import DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.clock import utcnow
from mercato.kit.db import Base
from mercato.kit.ids import new_id
from mercato.kit.logging import request_id_var
from mercato.kit.sql import Executor, Statement


class EventStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The dispatcher's claim query reads only pending rows in delivery order.
        Index("ix_outbox_events_pending", "available_at", "id", postgresql_where=text("status = 'pending'")),
        Index("ix_outbox_events_dead", "id", postgresql_where=text("status = 'dead'")),
        Index("ix_outbox_events_processed_at", "processed_at", postgresql_where=text("status = 'done'")),
    )


class ProcessedEvent(Base):
    """Which handler has applied which event: the dedupe record that makes redelivery harmless."""

    __tablename__ = "outbox_processed"

    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_outbox_processed_event_id", "event_id"),)


class Event(Protocol):
    name: ClassVar[str]


@dataclass(frozen=True)
class DeliveredEvent:
    """What a handler receives."""

    id: uuid.UUID
    name: str
    payload: dict[str, Any]
    created_at: datetime
    attempt: int


Handler = Callable[[AsyncSession, DeliveredEvent], Awaitable[None]]


@dataclass(frozen=True)
class RegisteredHandler:
    name: str
    event_name: str
    func: Handler


class HandlerRegistry:
    def __init__(self) -> None:
        self._by_event: dict[str, list[RegisteredHandler]] = defaultdict(list)

    def register(self, event_name: str, func: Handler, *, name: str | None = None) -> None:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        existing = self._by_event[event_name]
        if any(h.name == handler_name for h in existing):
            return
        existing.append(RegisteredHandler(handler_name, event_name, func))

    def for_event(self, event_name: str) -> list[RegisteredHandler]:
        return list(self._by_event.get(event_name, ()))

    def event_names(self) -> list[str]:
        return sorted(self._by_event)


registry = HandlerRegistry()


def on(event_name: str) -> Callable[[Handler], Handler]:
    """Decorator for a module's handlers.py: run `func` for every `event_name` event."""

    def decorate(func: Handler) -> Handler:
        registry.register(event_name, func)
        return func

    return decorate


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event as its outbox row will hold it: written by `emit`, or by a larger statement of the
    caller's that takes `insert_sql` as one of its CTEs (one round trip for the change and its event)."""

    id: uuid.UUID
    name: str
    payload: dict[str, Any]
    request_id: str | None
    at: datetime

    def params(self, prefix: str = "") -> dict[str, Any]:
        """The parameters of `insert_sql(prefix)`."""
        return {f"{prefix}id": self.id, f"{prefix}name": self.name, f"{prefix}payload": _json_text(self.payload),
                f"{prefix}request_id": self.request_id, f"{prefix}at": self.at}


def pending_event(event: Any, *, name: str | None = None) -> PendingEvent:
    """`event` (a dataclass with a `name` class attribute, or a dict plus `name`) as an outbox row.
    Refuses what cannot be a JSON payload here, before anything is written."""
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        payload = _jsonable(dataclasses.asdict(event))
        event_name = name or str(getattr(type(event), "name"))  # noqa: B009 - a ClassVar of the event type
    elif isinstance(event, dict):
        if name is None:
            raise ValueError("emit() needs a name for a dict payload")
        payload, event_name = _jsonable(event), name
    else:
        raise TypeError("emit() takes an event dataclass or a dict")
    return PendingEvent(new_id(), event_name, payload, request_id_var.get() or None, utcnow())


def insert_sql(prefix: str = "", *, source: str | None = None, payload: str = "{payload}") -> str:
    """`INSERT INTO outbox_events ... SELECT ...` of a pending event (`PendingEvent.params(prefix)`):
    one row, or — given `source`, a FROM clause with its WHERE — one per row of it (none if it is empty).
    `payload` is the SQL of the payload, `{payload}` standing for the event's own, so that a statement
    can add a value it produces itself (`{payload} || jsonb_build_object('number', placed.number)`).
    Explicit casts to text, not to the columns' varchar(n): a cast to varchar(n) would truncate."""
    p = f":{prefix}"
    payload_sql = payload.replace("{payload}", f"CAST({p}payload AS jsonb)")
    sql = (
        "INSERT INTO outbox_events (id, name, payload, status, attempts, request_id, created_at, available_at) "
        f"SELECT CAST({p}id AS uuid), CAST({p}name AS text), {payload_sql}, '{EventStatus.PENDING.value}', 0, "
        f"CAST({p}request_id AS text), CAST({p}at AS timestamptz), CAST({p}at AS timestamptz)"
    )
    return sql if source is None else f"{sql} FROM {source}"


# Straight to the driver, at once: an ORM object would cost the caller's flush more CPU than the
# insert costs PostgreSQL. The row's statement-level trigger queues the NOTIFY that wakes idle
# workers at commit (PostgreSQL folds a transaction's identical notifications into one).
_EMIT = Statement(insert_sql())


async def emit(session: Executor, event: Any, *, name: str | None = None) -> uuid.UUID:
    """Record `event` (a dataclass with a `name` class attribute, or a dict plus `name`): its row is
    written now, in the caller's transaction (and savepoint), and delivered once that commits."""
    pending = pending_event(event, name=name)
    await _EMIT.fetch(session, **pending.params())
    return pending.id


def _json_text(value: Any) -> str:
    """JSON text for a jsonb parameter: orjson, or — for what orjson refuses and the standard
    library writes, such as integers beyond 64 bits — `json.dumps`, as SQLAlchemy's JSONB did."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _jsonable(value: Any) -> Any:
    """The payload as JSON types. Anything else fails here, in `emit()`, rather than at commit time
    (where it would have aborted the business transaction with an opaque serialiser error)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or infinity: PostgreSQL refuses them (orjson would quietly write null).
        raise TypeError(f"emit(): {value} cannot go into an event payload")
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    raise TypeError(f"emit(): a {type(value).__name__} cannot go into an event payload")
