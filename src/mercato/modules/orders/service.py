"""Order use cases: place an order from a checkout draft, record what happened to its payment,
and read orders as the API shows them. Flushes, never commits."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit import outbox
from mercato.kit.clock import utcnow
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules import payments
from mercato.modules.orders.drafts import OrderDraft, PlacedOrder, check_draft
from mercato.modules.orders.errors import CartAlreadyOrdered, OrderNotFound
from mercato.modules.orders.events import OrderConfirmed, OrderPlaced
from mercato.modules.orders.models import Order, OrderEvent, OrderLine
from mercato.modules.orders.rules import new_token, status_after_payment, token_hash, token_matches

# Inserts go to the tables themselves, not through the ORM's bulk machinery: checkout places an
# order in a handful of statements, and the ORM path cost more than the database did.
_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_EVENTS = cast(Table, OrderEvent.__table__)

_NEWEST_FIRST = (SortKey(Order.created_at, descending=True), SortKey(Order.id, descending=True))


async def create_order(session: AsyncSession, draft: OrderDraft, *, order_id: uuid.UUID | None = None,
                       actor: str | None = None) -> PlacedOrder:
    """Place an order (status pending, payment pending, unfulfilled) with its lines, the
    `order.placed` timeline entry and outbox event. 409 `order.cart_already_ordered` if the draft's
    cart already has an order. Returns the order token in plain text, once."""
    check_draft(draft)
    order_id = order_id or new_id()
    token = new_token()
    now = utcnow()
    email = draft.email.strip().lower()
    placed = (await session.execute(
        pg_insert(_ORDERS).values(
            id=order_id, channel_id=draft.channel_id, customer_id=draft.customer_id, email=email,
            currency=draft.currency, status="pending", payment_status="pending", fulfillment_status="unfulfilled",
            **{key: draft.totals[key] for key in ("subtotal", "discount", "shipping", "tax", "total")},
            prices_include_tax=draft.prices_include_tax, shipping_address=draft.shipping_address,
            billing_address=draft.billing_address, shipping_option=draft.shipping_option, breakdown=draft.breakdown,
            coupons=list(draft.coupons), cart_id=draft.cart_id, token_hash=token_hash(token), created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[_ORDERS.c.cart_id], index_where=text("cart_id IS NOT NULL"))
        .returning(_ORDERS.c.number)
    )).scalar_one_or_none()
    if placed is None:
        raise CartAlreadyOrdered()
    await session.execute(insert(_LINES), [
        {"id": new_id(), "order_id": order_id, "position": position, **asdict(line)}
        for position, line in enumerate(draft.lines)
    ])
    who = actor or (f"customer:{draft.customer_id}" if draft.customer_id else "guest")
    await _append_event(session, order_id, "order.placed", {
        "number": placed, "total": draft.totals["total"], "currency": draft.currency, "lines": len(draft.lines),
        "coupons": list(draft.coupons)}, who, now)
    await outbox.emit(session, OrderPlaced(
        order_id=str(order_id), number=placed, channel_id=str(draft.channel_id),
        customer_id=str(draft.customer_id) if draft.customer_id else None, email=email, currency=draft.currency,
        total=draft.totals["total"], coupons=list(draft.coupons),
        lines=[{"variant_id": str(line.variant_id), "sku": line.sku, "quantity": line.quantity}
               for line in draft.lines]))
    await session.flush()
    return PlacedOrder(order_id, placed, token)


# The payment status, the order status it leads to (:from_pending, what rules.status_after_payment
# makes of a pending order; no other status moves on a payment) and the timeline entry, in one statement.
_RECORD_PAYMENT = text("""
WITH before AS (SELECT id, status FROM orders WHERE id = :id FOR UPDATE),
changed AS (
    UPDATE orders o SET payment_status = :payment_status, updated_at = :now,
                        status = CASE WHEN o.status = 'pending' THEN :from_pending ELSE o.status END
    FROM before WHERE o.id = before.id
    RETURNING before.status AS was, o.status AS now_is, o.number),
logged AS (
    INSERT INTO order_events (id, order_id, kind, data, actor, created_at)
    SELECT :event_id, :id, :kind, CAST(:data AS jsonb), :actor, :now FROM changed RETURNING 1)
SELECT was, now_is, number FROM changed
""")


async def record_payment(session: AsyncSession, order_id: uuid.UUID, *, payment_status: str, event: str,
                         data: dict[str, Any], actor: str | None = None) -> None:
    """Set the order's payment status (rules.PAYMENT_STATUSES) and append `event` with `data` to its
    timeline. A pending order whose payment is secured becomes confirmed (`order.confirmed`)."""
    row = (await session.execute(_RECORD_PAYMENT, {
        "id": order_id, "payment_status": payment_status, "now": utcnow(),
        "from_pending": status_after_payment("pending", payment_status),
        "event_id": new_id(), "kind": event[:50], "data": json.dumps(data), "actor": actor or "system",
    })).one_or_none()
    if row is None:
        raise OrderNotFound()
    before, after, number = row
    if after != before and after == "confirmed":
        await outbox.emit(session, OrderConfirmed(order_id=str(order_id), number=number,
                                                  payment_status=payment_status))
        await session.flush()


async def _append_event(session: AsyncSession, order_id: uuid.UUID, kind: str, data: dict[str, Any],
                        actor: str | None, at: datetime) -> None:
    await session.execute(insert(_EVENTS).values(id=new_id(), order_id=order_id, kind=kind[:50],
                                                    data=data, actor=actor, created_at=at))


# ---------------------------------------------------------------------------------------------
# reads


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _line_json(line: OrderLine, currency: str) -> dict[str, Any]:
    return {
        "id": str(line.id), "variant_id": str(line.variant_id), "product_id": str(line.product_id),
        "sku": line.sku, "name": line.name, "quantity": line.quantity,
        "unit_price": _money(line.unit_price, currency), "subtotal": _money(line.subtotal, currency),
        "discount": _money(line.discount, currency), "tax": _money(line.tax, currency),
        "total": _money(line.total, currency), "tax_rate_ppm": line.tax_rate_ppm, "breakdown": line.breakdown,
    }


def _order_json(order: Order, lines: list[OrderLine], *, admin: bool) -> dict[str, Any]:
    c = order.currency
    shown: dict[str, Any] = {
        "id": str(order.id), "number": order.number, "status": order.status,
        "payment_status": order.payment_status, "fulfillment_status": order.fulfillment_status,
        "currency": c, "email": order.email, "lines": [_line_json(line, c) for line in lines],
        "totals": {key: _money(getattr(order, key), c) for key in ("subtotal", "discount", "shipping", "tax", "total")},
        "shipping_address": order.shipping_address, "billing_address": order.billing_address,
        "shipping_option": order.shipping_option, "coupons": list(order.coupons),
        "prices_include_tax": order.prices_include_tax, "breakdown": order.breakdown,
        "created_at": _timestamp(order.created_at), "updated_at": _timestamp(order.updated_at),
    }
    if admin:
        shown["customer_id"] = str(order.customer_id) if order.customer_id else None
        shown["channel_id"] = str(order.channel_id)
        shown["cart_id"] = str(order.cart_id) if order.cart_id else None
    return shown


async def _lines_of(session: AsyncSession, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[OrderLine]]:
    by_order: dict[uuid.UUID, list[OrderLine]] = defaultdict(list)
    if order_ids:
        lines = (await session.execute(
            select(OrderLine).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id, OrderLine.position)
        )).scalars().all()
        for line in lines:
            by_order[line.order_id].append(line)
    return by_order


async def _load(session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False) -> Order:
    stmt = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    order = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if order is None:
        raise OrderNotFound()
    return order


async def order_json(session: AsyncSession, order_id: uuid.UUID, *, admin: bool = False) -> dict[str, Any]:
    """The order as the API shows it (API.md's Order shape plus email, per-line amounts and
    breakdowns). `admin=True` adds customer/channel ids, the `events` timeline and `payments`.
    404 `order.not_found`."""
    if admin:
        return await _complete(session, await _load(session, order_id), admin=True)
    # The order and its lines in one statement (checkout reads it back on its way out).
    rows = (await session.execute(
        select(Order, OrderLine).outerjoin(OrderLine, OrderLine.order_id == Order.id).where(Order.id == order_id)
        .order_by(OrderLine.position).execution_options(populate_existing=True)
    )).all()
    if not rows:
        raise OrderNotFound()
    return _order_json(rows[0][0], [line for _, line in rows if line is not None], admin=False)


async def _complete(session: AsyncSession, order: Order, *, admin: bool) -> dict[str, Any]:
    lines = (await _lines_of(session, [order.id]))[order.id]
    shown = _order_json(order, lines, admin=admin)
    if admin:
        events = (await session.execute(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.created_at, OrderEvent.id)
        )).scalars().all()
        shown["events"] = [{"id": str(e.id), "kind": e.kind, "data": e.data, "actor": e.actor,
                            "created_at": _timestamp(e.created_at)} for e in events]
        shown["payments"] = [p.as_dict() for p in await payments.payments_of(session, order.id)]
    return shown


async def shopper_order(session: AsyncSession, raw_id: str, *, customer_id: str | None, token: str | None,
                        lock: bool = False) -> Order:
    """The order if the caller may see it: the signed-in customer who placed it, or anyone holding
    its order token. Everything else, including orders that exist, is 404 `order.not_found`."""
    order_id = parse_id(raw_id)
    if order_id is None:
        raise OrderNotFound()
    order = await _load(session, order_id, lock=lock)
    owner = customer_id is not None and order.customer_id is not None and str(order.customer_id) == customer_id
    if not owner and not (token and token_matches(token, order.token_hash)):
        raise OrderNotFound()
    return order


async def shopper_order_json(session: AsyncSession, raw_id: str, *, customer_id: str | None,
                             token: str | None) -> dict[str, Any]:
    """GET /store/orders/{id}: the order if the caller may see it (see `shopper_order`)."""
    order = await shopper_order(session, raw_id, customer_id=customer_id, token=token)
    return await _complete(session, order, admin=False)


async def _page_json(session: AsyncSession, stmt: Select[Any], *, limit: int, cursor: str | None,
                     admin: bool) -> Page[dict[str, Any]]:
    page = await keyset_page(session, stmt, _NEWEST_FIRST, limit=limit, cursor=cursor)
    lines = await _lines_of(session, [order.id for order in page.items])
    return Page([_order_json(order, lines[order.id], admin=admin) for order in page.items], page.next_cursor)


async def customer_orders(session: AsyncSession, customer_id: uuid.UUID, *, limit: int,
                          cursor: str | None) -> Page[dict[str, Any]]:
    """A customer's orders, newest first (two statements per page)."""
    return await _page_json(session, select(Order).where(Order.customer_id == customer_id), limit=limit,
                            cursor=cursor, admin=False)


async def search_orders(session: AsyncSession, *, status: str | None = None, customer_id: uuid.UUID | None = None,
                        email: str | None = None, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
    """Orders for staff, newest first, filtered by status, customer and (case-insensitive) email."""
    stmt = select(Order)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if email is not None:
        stmt = stmt.where(Order.email == email.strip().lower())
    return await _page_json(session, stmt, limit=limit, cursor=cursor, admin=True)
