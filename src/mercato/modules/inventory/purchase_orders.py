"""Purchase orders: draft → sent → partially_received → received, then closed; or cancelled.

Receiving turns arrived units into ledger receipts (`stock.change_on_hand(kind="receipt")`) at the
order's warehouse. Over-receipt is refused (422, nothing recorded) rather than accepted as an
overage: units beyond what was ordered need a new purchase order or a stock adjustment, so that a
typo at the dock never inflates stock silently. Receiving locks the order row first, so concurrent
receipts for one order queue on it and can never together receive more than was ordered.

`next_number`, `variant_skus`, `checked_variants` and `warehouse_id_of` are shared with transfers
and cycle counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Numeric, String, Uuid, cast, column, func, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.money import is_currency
from mercato.kit.outbox import emit
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import DocumentNotFound, InvalidInventory, InvalidTransition
from mercato.modules.inventory.models import (
    DOCUMENT_SEQUENCES,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    Warehouse,
)

_variants = table("variants", column("id", Uuid()), column("sku", String()))

MAX_LINES = 500
STATUSES = ("draft", "sent", "partially_received", "received", "closed", "cancelled")
# Which statuses each action starts from.
_FROM = {
    "sent": {"draft"},
    "received": {"sent", "partially_received"},
    "closed": {"sent", "partially_received", "received"},
    "cancelled": {"draft", "sent"},  # "sent" means nothing has arrived yet
    "edited": {"draft"},
    "annotated": {"draft", "sent", "partially_received"},  # expected_at and notes only
}
_HEADER_ONLY = frozenset({"expected_at", "notes"})


# ---------------------------------------------------------------------------------------------
# shared by the replenishment documents


async def next_number(session: AsyncSession, kind: str, prefix: str) -> str:
    """The next human-readable number of a document kind ("PO-000042"): gaps are possible (a rolled
    back transaction burns one), duplicates are not."""
    sequence = DOCUMENT_SEQUENCES[kind]  # a constant name, never client input
    value = (await session.execute(text(f"SELECT nextval('{sequence}')"))).scalar_one()
    return f"{prefix}-{int(value):06d}"


async def variant_skus(session: AsyncSession, variant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not variant_ids:
        return {}
    rows = await session.execute(select(_variants.c.id, _variants.c.sku).where(_variants.c.id.in_(variant_ids)))
    return {variant_id: sku for variant_id, sku in rows.all()}


async def checked_variants(session: AsyncSession, raw_ids: Sequence[str], *, field: str = "lines",
                           max_lines: int = MAX_LINES) -> list[uuid.UUID]:
    """Parse the variant ids of document lines; unknown or repeated ones → 422 naming each line."""
    if len(raw_ids) > max_lines:
        raise InvalidInventory([FieldError(field, "too_many", f"At most {max_lines} lines.")])
    parsed = [parse_id(raw) for raw in raw_ids]
    known = await variant_skus(session, {p for p in parsed if p is not None})
    errors: list[FieldError] = []
    seen: set[uuid.UUID] = set()
    for i, variant_id in enumerate(parsed):
        if variant_id is None or variant_id not in known:
            errors.append(FieldError(f"{field}.{i}.variant_id", "unknown", "No variant has this id."))
        elif variant_id in seen:
            errors.append(FieldError(f"{field}.{i}.variant_id", "duplicate", "Each variant may appear once."))
        else:
            seen.add(variant_id)
    if errors:
        raise InvalidInventory(errors)
    return [p for p in parsed if p is not None]


async def warehouse_id_of(session: AsyncSession, raw: str) -> uuid.UUID | None:
    parsed = parse_id(raw)
    if parsed is None:
        return None
    return await session.scalar(select(Warehouse.id).where(Warehouse.id == parsed))


def require(what: str, status: str, action: str, allowed: Collection[str]) -> None:
    if status not in allowed:
        raise InvalidTransition(what, status.replace("_", " "), action)


# ---------------------------------------------------------------------------------------------
# purchase orders


@dataclass(frozen=True)
class LineData:
    variant_id: str
    quantity_ordered: int
    unit_cost: int


@dataclass(frozen=True)
class OrderData:
    supplier_id: str
    warehouse_id: str
    currency: str
    expected_at: date | None
    notes: str | None
    lines: list[LineData]


@dataclass(frozen=True)
class ReceiptData:
    line_id: str | None
    variant_id: str | None
    quantity: int
    lot_number: str | None = None
    expires_on: date | None = None


@dataclass(frozen=True)
class OrderLine:
    line: PurchaseOrderLine
    sku: str


@dataclass(frozen=True)
class OrderDocument:
    order: PurchaseOrder
    lines: list[OrderLine]


async def list_orders(
    session: AsyncSession, *, status: str | None, supplier_id: uuid.UUID | None, warehouse_id: uuid.UUID | None,
    limit: int, cursor: str | None,
) -> Page[PurchaseOrder]:
    """Newest first."""
    stmt = select(PurchaseOrder)
    if status is not None:
        stmt = stmt.where(PurchaseOrder.status == status)
    if supplier_id is not None:
        stmt = stmt.where(PurchaseOrder.supplier_id == supplier_id)
    if warehouse_id is not None:
        stmt = stmt.where(PurchaseOrder.warehouse_id == warehouse_id)
    return await keyset_page(session, stmt, [SortKey(PurchaseOrder.id, descending=True)], limit=limit,
                             cursor=cursor)


async def order_totals(session: AsyncSession, order_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Ordered value per order, in minor units (numeric: a sum of bigint products can pass 2^63)."""
    if not order_ids:
        return {}
    value = func.sum(cast(PurchaseOrderLine.quantity_ordered, Numeric) * PurchaseOrderLine.unit_cost)
    rows = await session.execute(
        select(PurchaseOrderLine.purchase_order_id, value)
        .where(PurchaseOrderLine.purchase_order_id.in_(order_ids))
        .group_by(PurchaseOrderLine.purchase_order_id)
    )
    return {order_id: int(total) for order_id, total in rows.all()}


async def get_order(session: AsyncSession, order_id: str, *, lock: bool = False) -> PurchaseOrder:
    parsed = parse_id(order_id)
    if parsed is None:
        raise DocumentNotFound("purchase order")
    stmt = select(PurchaseOrder).where(PurchaseOrder.id == parsed)
    order = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if order is None:
        raise DocumentNotFound("purchase order")
    return order


async def _lines(session: AsyncSession, order: PurchaseOrder) -> list[PurchaseOrderLine]:
    stmt = select(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == order.id)
    return list((await session.execute(stmt.order_by(PurchaseOrderLine.id))).scalars())


async def document(session: AsyncSession, order: PurchaseOrder) -> OrderDocument:
    lines = await _lines(session, order)
    skus = await variant_skus(session, {line.variant_id for line in lines})
    return OrderDocument(order, [OrderLine(line, skus.get(line.variant_id, "")) for line in lines])


async def _checked(session: AsyncSession, data: OrderData, *, new_supplier: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    supplier_id = parse_id(data.supplier_id)
    active = None
    if supplier_id is not None:
        active = await session.scalar(select(Supplier.is_active).where(Supplier.id == supplier_id))
    if active is None:
        errors.append(FieldError("supplier_id", "unknown", "No supplier has this id."))
    elif new_supplier and not active:
        errors.append(FieldError("supplier_id", "inactive", "The supplier is deactivated."))
    warehouse_id = await warehouse_id_of(session, data.warehouse_id)
    if warehouse_id is None:
        errors.append(FieldError("warehouse_id", "unknown", "No warehouse has this id."))
    if not is_currency(data.currency):
        errors.append(FieldError("currency", "unknown", "Not an ISO 4217 currency code."))
    try:
        await checked_variants(session, [line.variant_id for line in data.lines])
    except InvalidInventory as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInventory(errors)
    return {"supplier_id": supplier_id, "warehouse_id": warehouse_id, "currency": data.currency,
            "expected_at": data.expected_at, "notes": data.notes}


def _new_lines(order_id: uuid.UUID, lines: Sequence[LineData]) -> list[PurchaseOrderLine]:
    return [PurchaseOrderLine(purchase_order_id=order_id, variant_id=uuid.UUID(line.variant_id),
                              quantity_ordered=line.quantity_ordered, quantity_received=0, unit_cost=line.unit_cost)
            for line in lines]


async def create_order(session: AsyncSession, data: OrderData) -> OrderDocument:
    """A draft order; unknown supplier/warehouse/variants, an inactive supplier, an unknown currency
    or a variant on two lines → 422 `inventory.invalid` naming each field."""
    values = await _checked(session, data, new_supplier=True)
    order = PurchaseOrder(**values, number=await next_number(session, "purchase_order", "PO"), status="draft",
                          version=1)
    session.add(order)
    await session.flush()
    session.add_all(_new_lines(order.id, data.lines))
    await session.flush()
    await session.refresh(order)
    return await document(session, order)


async def update_order(session: AsyncSession, order: PurchaseOrder, changes: dict[str, Any]) -> OrderDocument:
    """Edit a locked order. Drafts take any change (`lines` replaces every line); once sent, only
    `expected_at` and `notes` may change, until the order is received, closed or cancelled."""
    require("purchase order", order.status, "edited",
            _FROM["annotated"] if changes.keys() <= _HEADER_ONLY else _FROM["edited"])
    lines: list[LineData] | None = changes.pop("lines", None)
    current = await _lines(session, order)
    merged = OrderData(
        supplier_id=str(changes.get("supplier_id", order.supplier_id)),
        warehouse_id=str(changes.get("warehouse_id", order.warehouse_id)),
        currency=changes.get("currency", order.currency),
        expected_at=changes.get("expected_at", order.expected_at), notes=changes.get("notes", order.notes),
        lines=lines if lines is not None else [],
    )
    values = await _checked(session, merged, new_supplier=str(order.supplier_id) != merged.supplier_id)
    for key, value in values.items():
        setattr(order, key, value)
    if lines is not None:
        # Lines of variants still ordered keep their id; the others go.
        by_variant = {line.variant_id: line for line in current}
        for line in lines:
            existing = by_variant.pop(uuid.UUID(line.variant_id), None)
            if existing is None:
                session.add(_new_lines(order.id, [line])[0])
            else:
                existing.quantity_ordered, existing.unit_cost = line.quantity_ordered, line.unit_cost
        for gone in by_variant.values():
            await session.delete(gone)
    order.version += 1
    await session.flush()
    await session.refresh(order)
    return await document(session, order)


async def send_order(session: AsyncSession, order: PurchaseOrder) -> OrderDocument:
    require("purchase order", order.status, "sent", _FROM["sent"])
    if not await _lines(session, order):
        raise InvalidInventory([FieldError("lines", "empty", "Add at least one line before sending.")])
    order.status, order.sent_at = "sent", utcnow()
    return await _saved(session, order)


async def close_order(session: AsyncSession, order: PurchaseOrder) -> OrderDocument:
    """Close with what arrived: nothing more is expected."""
    require("purchase order", order.status, "closed", _FROM["closed"])
    order.status, order.closed_at = "closed", utcnow()
    return await _saved(session, order)


async def cancel_order(session: AsyncSession, order: PurchaseOrder) -> OrderDocument:
    require("purchase order", order.status, "cancelled", _FROM["cancelled"])
    order.status = "cancelled"
    return await _saved(session, order)


async def _saved(session: AsyncSession, order: PurchaseOrder) -> OrderDocument:
    order.version += 1
    await session.flush()
    await session.refresh(order)
    return await document(session, order)


async def receive(
    session: AsyncSession, order: PurchaseOrder, receipts: Sequence[ReceiptData], *, actor: str | None
) -> OrderDocument:
    """Record arrivals on a locked order (lock it FOR UPDATE first: that is what serialises
    concurrent receipts). Each entry names a line by `line_id` or `variant_id`; one line may appear
    on several entries (one per lot). A line not on the order, or more than is still outstanding
    → 422 `inventory.invalid` naming each entry, and nothing is recorded."""
    require("purchase order", order.status, "received", _FROM["received"])
    lines = await _lines(session, order)
    by_id = {line.id: line for line in lines}
    by_variant = {line.variant_id: line for line in lines}
    errors: list[FieldError] = []
    arriving: dict[uuid.UUID, int] = {}
    matched: list[tuple[PurchaseOrderLine, ReceiptData]] = []
    for i, receipt in enumerate(receipts):
        key = "line_id" if receipt.line_id is not None else "variant_id"
        ref = parse_id(receipt.line_id if receipt.line_id is not None else receipt.variant_id or "")
        line = (by_id if key == "line_id" else by_variant).get(ref) if ref is not None else None
        if line is None:
            errors.append(FieldError(f"lines.{i}.{key}", "not_on_order", "Not a line of this purchase order."))
            continue
        outstanding = line.quantity_ordered - line.quantity_received - arriving.get(line.id, 0)
        if receipt.quantity > outstanding:
            errors.append(FieldError(f"lines.{i}.quantity", "over_receipt",
                                     f"Only {max(outstanding, 0)} of this line are still expected."))
        arriving[line.id] = arriving.get(line.id, 0) + receipt.quantity
        matched.append((line, receipt))
    if errors:
        raise InvalidInventory(errors, "The receipt does not match the purchase order.")
    # Stock rows are locked in variant order, the order every multi-line stock change uses.
    for line, receipt in sorted(matched, key=lambda pair: pair[0].variant_id):
        await stock.change_on_hand(
            session, variant_id=line.variant_id, warehouse_id=order.warehouse_id, delta=receipt.quantity,
            kind="receipt", actor=actor, reason=f"purchase order {order.number}",
            reference_type="purchase_order", reference_id=str(order.id),
            lot_number=receipt.lot_number, expires_on=receipt.expires_on,
        )
        line.quantity_received += receipt.quantity
    complete = all(line.quantity_received >= line.quantity_ordered for line in lines)
    order.status = "received" if complete else "partially_received"
    if complete:
        await emit(session, {
            "purchase_order_id": order.id, "number": order.number, "supplier_id": order.supplier_id,
            "warehouse_id": order.warehouse_id,
            "lines": [{"variant_id": line.variant_id, "quantity_ordered": line.quantity_ordered,
                       "quantity_received": line.quantity_received} for line in lines],
        }, name="purchase_order.received")
    return await _saved(session, order)
