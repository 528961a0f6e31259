"""Order use cases: place an order from a checkout draft, record what happened to its payment,
and read orders as the API shows them. Writes in the caller's transaction, never commits.

What checkout runs (placing, recording the payment, reading the order back) goes straight to the
driver (`kit.sql.Statement`), one statement each: the ORM's identity map does not see those writes,
so nothing here reads an `Order` it holds after them (`_load` refreshes what it reads)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit import outbox
from mercato.kit.clock import rfc3339, utcnow
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.kit.sql import Statement
from mercato.modules import payments
from mercato.modules.orders.drafts import TOTAL_KEYS, OrderDraft, PlacedOrder, check_draft
from mercato.modules.orders.errors import CartAlreadyOrdered, OrderNotFound
from mercato.modules.orders.events import OrderConfirmed, OrderPlaced
from mercato.modules.orders.models import Order, OrderEvent, OrderLine
from mercato.modules.orders.rules import new_token, status_after_payment, token_hash, token_matches

# The order, its lines, its `order.placed` timeline entry and outbox event: one statement, straight to
# the driver. The number comes from the column's default (the sequence), so the entry's and the
# event's payloads get it from the insert's RETURNING. A cart that already has an order inserts
# nothing at all (ON CONFLICT DO NOTHING: no row in `placed`, and every other insert selects from it).
_PLACE = Statement(f"""
WITH placed AS (
    INSERT INTO orders (id, channel_id, customer_id, email, currency, status, payment_status, fulfillment_status,
                        subtotal, discount, shipping, tax, total, prices_include_tax, shipping_address,
                        billing_address, shipping_option, breakdown, coupons, cart_id, token_hash, created_at,
                        updated_at)
    VALUES (:id, :channel_id, :customer_id, :email, :currency, 'pending', 'pending', 'unfulfilled',
            :subtotal, :discount, :shipping, :tax, :total, :prices_include_tax, CAST(:shipping_address AS jsonb),
            CAST(:billing_address AS jsonb), CAST(:shipping_option AS jsonb), CAST(:breakdown AS jsonb), :coupons,
            :cart_id, :token_hash, :now, :now)
    ON CONFLICT (cart_id) WHERE cart_id IS NOT NULL DO NOTHING
    RETURNING id, number),
lines AS (
    INSERT INTO order_lines (id, order_id, position, variant_id, product_id, sku, name, quantity, unit_price,
                             subtotal, discount, tax, total, tax_rate_ppm, breakdown)
    SELECT l.id, placed.id, l.n - 1, l.variant_id, l.product_id, l.sku, l.name, l.quantity, l.unit_price,
           l.subtotal, l.discount, l.tax, l.total, l.tax_rate_ppm, CAST(l.breakdown AS jsonb)
    FROM placed, unnest(CAST(:line_ids AS uuid[]), CAST(:variant_ids AS uuid[]), CAST(:product_ids AS uuid[]),
                        CAST(:skus AS text[]), CAST(:names AS text[]), CAST(:quantities AS integer[]),
                        CAST(:unit_prices AS bigint[]), CAST(:subtotals AS bigint[]), CAST(:discounts AS bigint[]),
                        CAST(:taxes AS bigint[]), CAST(:totals AS bigint[]), CAST(:tax_rates AS integer[]),
                        CAST(:breakdowns AS text[]))
         WITH ORDINALITY AS l(id, variant_id, product_id, sku, name, quantity, unit_price, subtotal, discount, tax,
                              total, tax_rate_ppm, breakdown, n)),
logged AS (
    INSERT INTO order_events (id, order_id, kind, data, actor, created_at)
    SELECT CAST(:entry_id AS uuid), placed.id, 'order.placed',
           CAST(:entry_data AS jsonb) || jsonb_build_object('number', placed.number), CAST(:actor AS text),
           CAST(:now AS timestamptz)
    FROM placed),
announced AS ({outbox.insert_sql("event_", source="placed",
                                 payload="{payload} || jsonb_build_object('number', placed.number)")})
SELECT number FROM placed
""")  # noqa: S608 - a constant fragment of kit.outbox; values are bound parameters


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
    coupons = list(draft.coupons)
    lines = draft.lines
    # `number` is the placeholder the statement overwrites with the number it draws.
    event = outbox.pending_event(OrderPlaced(
        order_id=str(order_id), number="", channel_id=str(draft.channel_id),
        customer_id=str(draft.customer_id) if draft.customer_id else None, email=email, currency=draft.currency,
        total=draft.totals["total"], coupons=coupons,
        lines=[{"variant_id": str(line.variant_id), "sku": line.sku, "quantity": line.quantity} for line in lines]))
    placed = await _PLACE.fetchval(
        session, id=order_id, channel_id=draft.channel_id, customer_id=draft.customer_id, email=email,
        currency=draft.currency, **{key: draft.totals[key] for key in TOTAL_KEYS},
        prices_include_tax=draft.prices_include_tax, shipping_address=_json(draft.shipping_address),
        billing_address=_json(draft.billing_address), shipping_option=_json(draft.shipping_option),
        breakdown=_json(draft.breakdown), coupons=coupons, cart_id=draft.cart_id, token_hash=token_hash(token), now=now,
        line_ids=[new_id() for _ in lines], variant_ids=[line.variant_id for line in lines],
        product_ids=[line.product_id for line in lines], skus=[line.sku for line in lines],
        names=[line.name for line in lines], quantities=[line.quantity for line in lines],
        unit_prices=[line.unit_price for line in lines], subtotals=[line.subtotal for line in lines],
        discounts=[line.discount for line in lines], taxes=[line.tax for line in lines],
        totals=[line.total for line in lines], tax_rates=[line.tax_rate_ppm for line in lines],
        breakdowns=[_json(line.breakdown) for line in lines],
        entry_id=new_id(), entry_data=_json({"total": draft.totals["total"], "currency": draft.currency,
                                             "lines": len(lines), "coupons": coupons}),
        actor=actor or (f"customer:{draft.customer_id}" if draft.customer_id else "guest"),
        **event.params("event_"))
    if placed is None:
        raise CartAlreadyOrdered()
    return PlacedOrder(order_id, placed, token)


# The payment status, the order status it leads to (:from_pending, what rules.status_after_payment
# makes of a pending order; no other status moves on a payment) and the timeline entry, in one statement.
_RECORD_PAYMENT = """
WITH before AS (SELECT id, status FROM orders WHERE id = :id FOR UPDATE),
changed AS (
    UPDATE orders o SET payment_status = :payment_status, updated_at = :now,
                        status = CASE WHEN o.status = 'pending' THEN :from_pending ELSE o.status END
    FROM before WHERE o.id = before.id
    RETURNING before.status AS was, o.status AS now_is, o.number),
logged AS (
    INSERT INTO order_events (id, order_id, kind, data, actor, created_at)
    SELECT :entry_id, :id, :kind, CAST(:data AS jsonb), :actor, :now FROM changed RETURNING 1)
"""
_RECORD = Statement(_RECORD_PAYMENT + "SELECT was, now_is, number FROM changed")  # noqa: S608 - constants
# A payment status that confirms a pending order: the same, plus `order.confirmed` on the outbox if the
# order did move to confirmed. Used only for such statuses: the outbox's statement trigger queues a
# NOTIFY (waking idle workers at commit) even when its insert writes no row.
_RECORD_CONFIRMING = Statement(
    _RECORD_PAYMENT
    + f""", announced AS ({outbox.insert_sql(
        "event_", source="changed WHERE changed.was <> changed.now_is AND changed.now_is = 'confirmed'",
        payload="{payload} || jsonb_build_object('number', changed.number)")})
SELECT was, now_is, number FROM changed""")  # noqa: S608 - a constant fragment of kit.outbox; values are bound


async def record_payment(session: AsyncSession, order_id: uuid.UUID, *, payment_status: str, event: str,
                         data: dict[str, Any], actor: str | None = None) -> None:
    """Set the order's payment status (rules.PAYMENT_STATUSES) and append `event` with `data` to its
    timeline. A pending order whose payment is secured becomes confirmed (`order.confirmed`)."""
    from_pending = status_after_payment("pending", payment_status)
    params: dict[str, Any] = {
        "id": order_id, "payment_status": payment_status, "now": utcnow(), "from_pending": from_pending,
        "entry_id": new_id(), "kind": event[:50], "data": _json(data), "actor": actor or "system",
    }
    if from_pending == "confirmed":
        # `number` is the placeholder the statement overwrites with the order's.
        confirmed = outbox.pending_event(OrderConfirmed(order_id=str(order_id), number="",
                                                        payment_status=payment_status))
        row = await _RECORD_CONFIRMING.fetchrow(session, **params, **confirmed.params("event_"))
    else:
        row = await _RECORD.fetchrow(session, **params)
    if row is None:
        raise OrderNotFound()


def _json(value: Any) -> str:
    """JSON text for a jsonb parameter, None as the JSON null (as SQLAlchemy's JSONB stored it):
    orjson, or `json.dumps` (SQLAlchemy's serialiser) for what orjson refuses, such as integers
    beyond 64 bits."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


# ---------------------------------------------------------------------------------------------
# reads

_NEWEST_FIRST = (SortKey(Order.created_at, descending=True), SortKey(Order.id, descending=True))


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


# Lines and orders are ORM objects, or rows of a statement that read the same columns (`_SHOWN`).
def _line_json(line: OrderLine | _LineColumns, currency: str) -> dict[str, Any]:
    return {
        "id": str(line.id), "variant_id": str(line.variant_id), "product_id": str(line.product_id),
        "sku": line.sku, "name": line.name, "quantity": line.quantity,
        "unit_price": _money(line.unit_price, currency), "subtotal": _money(line.subtotal, currency),
        "discount": _money(line.discount, currency), "tax": _money(line.tax, currency),
        "total": _money(line.total, currency), "tax_rate_ppm": line.tax_rate_ppm, "breakdown": line.breakdown,
    }


def _order_json(order: Order | Any, lines: Sequence[OrderLine | _LineColumns], *, admin: bool) -> dict[str, Any]:
    c = order.currency
    shown: dict[str, Any] = {
        "id": str(order.id), "number": order.number, "status": order.status,
        "payment_status": order.payment_status, "fulfillment_status": order.fulfillment_status,
        "currency": c, "email": order.email, "lines": [_line_json(line, c) for line in lines],
        "totals": {key: _money(getattr(order, key), c) for key in ("subtotal", "discount", "shipping", "tax", "total")},
        "shipping_address": order.shipping_address, "billing_address": order.billing_address,
        "shipping_option": order.shipping_option, "coupons": list(order.coupons),
        "prices_include_tax": order.prices_include_tax, "breakdown": order.breakdown,
        "created_at": rfc3339(order.created_at), "updated_at": rfc3339(order.updated_at),
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


# The order and its lines in one statement (checkout reads it back on its way out), straight to the
# driver. Line columns that share a name with the order's are read under `line_`.
_SHOWN = Statement("""
SELECT o.id, o.number, o.status, o.payment_status, o.fulfillment_status, o.currency, o.email, o.subtotal,
       o.discount, o.shipping, o.tax, o.total, o.shipping_address, o.billing_address, o.shipping_option, o.coupons,
       o.prices_include_tax, o.breakdown, o.created_at, o.updated_at,
       l.id AS line_id, l.variant_id AS line_variant_id, l.product_id AS line_product_id, l.sku AS line_sku,
       l.name AS line_name, l.quantity AS line_quantity, l.unit_price AS line_unit_price,
       l.subtotal AS line_subtotal, l.discount AS line_discount, l.tax AS line_tax, l.total AS line_total,
       l.tax_rate_ppm AS line_tax_rate_ppm, l.breakdown AS line_breakdown
FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
WHERE o.id = :id
ORDER BY l.position
""")


class _LineColumns:
    """An order line read from a row of `_SHOWN` (its columns are the row's `line_*`)."""

    __slots__ = ("_row",)

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[f"line_{name}"]
        except KeyError:
            raise AttributeError(name) from None


async def order_json(session: AsyncSession, order_id: uuid.UUID, *, admin: bool = False) -> dict[str, Any]:
    """The order as the API shows it (API.md's Order shape plus email, per-line amounts and
    breakdowns). `admin=True` adds customer/channel ids, the `events` timeline and `payments`.
    404 `order.not_found`."""
    if admin:
        return await _complete(session, await _load(session, order_id), admin=True)
    rows = await _SHOWN.fetch(session, id=order_id)
    if not rows:
        raise OrderNotFound()
    return _order_json(rows[0], [_LineColumns(row) for row in rows if row["line_id"] is not None], admin=False)


async def _complete(session: AsyncSession, order: Order, *, admin: bool) -> dict[str, Any]:
    lines = (await _lines_of(session, [order.id]))[order.id]
    shown = _order_json(order, lines, admin=admin)
    if admin:
        events = (await session.execute(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.created_at, OrderEvent.id)
        )).scalars().all()
        shown["events"] = [{"id": str(e.id), "kind": e.kind, "data": e.data, "actor": e.actor,
                            "created_at": rfc3339(e.created_at)} for e in events]
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
