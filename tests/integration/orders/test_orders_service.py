"""Placing orders and recording their payments (service level, real database)."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.outbox import OutboxEvent
from mercato.modules import orders
from mercato.modules.orders.models import Order, OrderEvent, OrderLine
from mercato.modules.orders.rules import token_hash
from tests.integration.orders.factories import line_draft, make_draft, place


async def _events(session: AsyncSession, name: str, order_id: uuid.UUID) -> list[OutboxEvent]:
    rows = (await session.execute(select(OutboxEvent).where(OutboxEvent.name == name))).scalars().all()
    return [e for e in rows if e.payload["order_id"] == str(order_id)]


async def test_create_order_stores_the_draft_and_announces_it(session: AsyncSession) -> None:
    lines = [line_draft(1000, 1, sku="A-1"), line_draft(2500, 3, sku="B-2")]
    placed = await place(session, lines=lines, email="  Jane@Example.COM ")

    order = (await session.execute(select(Order).where(Order.id == placed.id))).scalar_one()
    assert re.fullmatch(r"M-\d{6,}", placed.number)
    assert order.number == placed.number
    assert (order.status, order.payment_status, order.fulfillment_status) == ("pending", "pending", "unfulfilled")
    assert order.email == "jane@example.com"
    assert (order.subtotal, order.shipping, order.total) == (8500, 490, 8990)
    assert order.token_hash == token_hash(placed.token)
    assert placed.token not in order.token_hash
    stored = (await session.execute(select(OrderLine).where(OrderLine.order_id == placed.id)
                                    .order_by(OrderLine.position))).scalars().all()
    assert [(line.sku, line.quantity, line.total) for line in stored] == [("A-1", 1, 1000), ("B-2", 3, 7500)]

    (event,) = await _events(session, "order.placed", placed.id)
    assert event.payload["number"] == placed.number
    assert event.payload["total"] == 8990
    assert [line["sku"] for line in event.payload["lines"]] == ["A-1", "B-2"]
    assert placed.token not in str(event.payload)
    timeline = (await session.execute(select(OrderEvent.kind).where(OrderEvent.order_id == placed.id))).scalars()
    assert list(timeline) == ["order.placed"]


async def test_numbers_are_sequential_and_ids_can_be_chosen(session: AsyncSession) -> None:
    chosen = uuid.uuid4()
    first = await place(session)
    second = await orders.create_order(session, await make_draft(session), order_id=chosen)
    assert second.id == chosen
    assert int(second.number[2:]) > int(first.number[2:])


async def test_one_order_per_cart(session: AsyncSession) -> None:
    cart_id = uuid.uuid4()
    await place(session, cart_id=cart_id)
    with pytest.raises(orders.CartAlreadyOrdered) as caught:
        await place(session, cart_id=cart_id)
    assert caught.value.code == "order.cart_already_ordered"
    assert await session.scalar(select(func.count()).select_from(Order).where(Order.cart_id == cart_id)) == 1
    await place(session, cart_id=None)
    await place(session, cart_id=None)  # orders without a cart are not limited


async def test_a_secured_payment_confirms_the_order(session: AsyncSession) -> None:
    placed = await place(session)
    await orders.record_payment(session, placed.id, payment_status="requires_action", event="payment.requires_action",
                                data={"payment_id": "p1"}, actor="guest")
    assert (await session.get(Order, placed.id, populate_existing=True)).status == "pending"  # type: ignore[union-attr]
    assert await _events(session, "order.confirmed", placed.id) == []

    await orders.record_payment(session, placed.id, payment_status="authorized", event="payment.authorized",
                                data={"payment_id": "p1"})
    order = await session.get(Order, placed.id, populate_existing=True)
    assert order is not None
    assert (order.status, order.payment_status) == ("confirmed", "authorized")
    (confirmed,) = await _events(session, "order.confirmed", placed.id)
    assert confirmed.payload["number"] == placed.number

    shown = await orders.order_json(session, placed.id, admin=True)
    assert [(e["kind"], e["actor"]) for e in shown["events"]] == [
        ("order.placed", "guest"), ("payment.requires_action", "guest"), ("payment.authorized", "system")]
    assert shown["events"][2]["data"] == {"payment_id": "p1"}


async def test_record_payment_on_a_missing_order_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(orders.OrderNotFound):
        await orders.record_payment(session, uuid.uuid4(), payment_status="authorized", event="x", data={})
