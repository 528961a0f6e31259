"""emit(): events are rows of the caller's transaction, with a JSON payload built from the event."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.logging import request_id_var
from mercato.kit.outbox import EventStatus, OutboxEvent, emit


class Channel(enum.StrEnum):
    WEB = "web"


@dataclass(frozen=True)
class Amount:
    minor: int
    currency: str


@dataclass(frozen=True)
class OrderPaid:
    name: ClassVar[str] = "test.order_paid"
    order_id: uuid.UUID
    total: Amount
    tax_rate: Decimal
    ship_on: date
    paid_at: datetime
    channel: Channel
    tags: frozenset[str]


async def stored(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent:
    result = await session.execute(
        select(OutboxEvent).where(OutboxEvent.id == event_id).execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def test_dataclass_event_becomes_a_pending_row_with_a_json_payload(session: AsyncSession) -> None:
    order_id = uuid.uuid4()
    paid_at = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    token = request_id_var.set("req-123")
    try:
        event_id = await emit(session, OrderPaid(
            order_id, Amount(1999, "EUR"), Decimal("0.20"), date(2025, 3, 4), paid_at, Channel.WEB,
            frozenset({"gift"}),
        ))
    finally:
        request_id_var.reset(token)
    await session.commit()

    row = await stored(session, event_id)
    assert row.name == "test.order_paid"
    assert row.status == EventStatus.PENDING
    assert row.attempts == 0
    assert row.request_id == "req-123"
    assert row.available_at == row.created_at
    assert row.payload == {
        "order_id": str(order_id), "total": {"minor": 1999, "currency": "EUR"}, "tax_rate": "0.20",
        "ship_on": "2025-03-04", "paid_at": "2025-03-01T12:30:00+00:00", "channel": "web", "tags": ["gift"],
    }


async def test_dict_event_needs_a_name_and_may_nest_dataclasses(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        await emit(session, {"a": 1})
    event_id = await emit(session, {"total": Amount(5, "JPY"), 3: None}, name="test.dict")
    await session.commit()
    row = await stored(session, event_id)
    assert row.payload == {"total": {"minor": 5, "currency": "JPY"}, "3": None}
    assert row.request_id is None


async def test_unserialisable_payload_fails_in_emit_not_at_commit(session: AsyncSession) -> None:
    with pytest.raises(TypeError, match="object cannot go into an event payload"):
        await emit(session, {"oops": object()}, name="test.bad")
    with pytest.raises(TypeError, match="bytes"):
        await emit(session, {"raw": b"\x00"}, name="test.bad")
    with pytest.raises(TypeError):
        await emit(session, OrderPaid)  # the class, not an instance
    with pytest.raises(TypeError):
        await emit(session, ["not", "an", "event"])
    # The session is untouched by the refused events and commits normally.
    await session.commit()
    assert (await session.execute(select(OutboxEvent.id))).first() is None


async def test_event_of_a_rolled_back_transaction_is_never_stored(session: AsyncSession) -> None:
    event_id = await emit(session, {"n": 1}, name="test.rolled_back")
    await session.rollback()
    assert (await session.execute(select(OutboxEvent).where(OutboxEvent.id == event_id))).first() is None
