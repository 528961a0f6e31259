"""Stock transfers between warehouses: draft → in_transit → partially_received → received; or
cancelled while still a draft.

Shipping takes every line out of the source warehouse in one transaction (`transfer_out`): when
any line lacks stock, nothing ships. Until it is received, a shipped unit is counted nowhere on
hand; `in_transit_by_variant` reports it against the destination. Receiving more than was shipped
is refused (422, nothing recorded).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.outbox import emit
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import DocumentNotFound, InvalidInventory
from mercato.modules.inventory.models import Transfer, TransferLine
from mercato.modules.inventory.purchase_orders import (
    checked_variants,
    next_number,
    require,
    variant_skus,
    warehouse_id_of,
)

STATUSES = ("draft", "in_transit", "partially_received", "received", "cancelled")
IN_TRANSIT = ("in_transit", "partially_received")
_FROM = {"shipped": {"draft"}, "received": set(IN_TRANSIT), "cancelled": {"draft"}}


@dataclass(frozen=True)
class TransferLineData:
    variant_id: str
    quantity: int


@dataclass(frozen=True)
class TransferData:
    from_warehouse_id: str
    to_warehouse_id: str
    lines: list[TransferLineData]


@dataclass(frozen=True)
class TransferReceiptData:
    variant_id: str
    quantity: int
    lot_number: str | None = None
    expires_on: date | None = None


@dataclass(frozen=True)
class TransferLineView:
    line: TransferLine
    sku: str
    in_transit: int


@dataclass(frozen=True)
class TransferDocument:
    transfer: Transfer
    lines: list[TransferLineView]


async def list_transfers(
    session: AsyncSession, *, status: str | None, warehouse_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[Transfer]:
    """Newest first; `warehouse_id` matches either end."""
    stmt = select(Transfer)
    if status is not None:
        stmt = stmt.where(Transfer.status == status)
    if warehouse_id is not None:
        stmt = stmt.where(or_(Transfer.from_warehouse_id == warehouse_id, Transfer.to_warehouse_id == warehouse_id))
    return await keyset_page(session, stmt, [SortKey(Transfer.id, descending=True)], limit=limit, cursor=cursor)


async def get_transfer(session: AsyncSession, transfer_id: str, *, lock: bool = False) -> Transfer:
    parsed = parse_id(transfer_id)
    if parsed is None:
        raise DocumentNotFound("transfer")
    stmt = select(Transfer).where(Transfer.id == parsed)
    transfer = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if transfer is None:
        raise DocumentNotFound("transfer")
    return transfer


async def _lines(session: AsyncSession, transfer: Transfer) -> list[TransferLine]:
    stmt = select(TransferLine).where(TransferLine.transfer_id == transfer.id).order_by(TransferLine.id)
    return list((await session.execute(stmt)).scalars())


async def document(session: AsyncSession, transfer: Transfer) -> TransferDocument:
    lines = await _lines(session, transfer)
    skus = await variant_skus(session, {line.variant_id for line in lines})
    moving = transfer.status in IN_TRANSIT
    return TransferDocument(transfer, [
        TransferLineView(line, skus.get(line.variant_id, ""),
                         line.quantity - line.quantity_received if moving else 0)
        for line in lines
    ])


async def create_transfer(session: AsyncSession, data: TransferData) -> TransferDocument:
    """A draft transfer; unknown warehouses or variants, one warehouse at both ends, or a variant on
    two lines → 422 `inventory.invalid` naming each field."""
    errors: list[FieldError] = []
    source = await warehouse_id_of(session, data.from_warehouse_id)
    destination = await warehouse_id_of(session, data.to_warehouse_id)
    if source is None:
        errors.append(FieldError("from_warehouse_id", "unknown", "No warehouse has this id."))
    if destination is None:
        errors.append(FieldError("to_warehouse_id", "unknown", "No warehouse has this id."))
    elif destination == source:
        errors.append(FieldError("to_warehouse_id", "same_warehouse", "Transfer to another warehouse."))
    variant_ids: list[uuid.UUID] = []
    try:
        variant_ids = await checked_variants(session, [line.variant_id for line in data.lines])
    except InvalidInventory as exc:
        errors.extend(exc.errors)
    if errors or source is None or destination is None:
        raise InvalidInventory(errors)
    transfer = Transfer(number=await next_number(session, "transfer", "TR"), from_warehouse_id=source,
                        to_warehouse_id=destination, status="draft", version=1)
    session.add(transfer)
    await session.flush()
    session.add_all(TransferLine(transfer_id=transfer.id, variant_id=variant_id, quantity=line.quantity,
                                 quantity_received=0)
                    for variant_id, line in zip(variant_ids, data.lines, strict=True))
    return await _saved(session, transfer, bump=False)


async def ship(session: AsyncSession, transfer: Transfer, *, actor: str | None) -> TransferDocument:
    """Take every line out of the source warehouse (lock the transfer first). Not enough on hand
    for any line → 409 `inventory.negative_on_hand` and nothing ships."""
    require("transfer", transfer.status, "shipped", _FROM["shipped"])
    for line in sorted(await _lines(session, transfer), key=lambda line: line.variant_id):
        await stock.change_on_hand(
            session, variant_id=line.variant_id, warehouse_id=transfer.from_warehouse_id, delta=-line.quantity,
            kind="transfer_out", actor=actor, reason=f"transfer {transfer.number}",
            reference_type="transfer", reference_id=str(transfer.id),
        )
    transfer.status, transfer.shipped_at = "in_transit", utcnow()
    return await _saved(session, transfer)


async def receive(
    session: AsyncSession, transfer: Transfer, receipts: Sequence[TransferReceiptData], *, actor: str | None
) -> TransferDocument:
    """Put arrived units into the destination (lock the transfer first: concurrent receipts queue
    on it). A variant not on the transfer, or more than is still in transit → 422 naming each
    entry, and nothing is recorded."""
    require("transfer", transfer.status, "received", _FROM["received"])
    lines = await _lines(session, transfer)
    by_variant = {line.variant_id: line for line in lines}
    errors: list[FieldError] = []
    arriving: dict[uuid.UUID, int] = {}
    matched: list[tuple[TransferLine, TransferReceiptData]] = []
    for i, receipt in enumerate(receipts):
        variant_id = parse_id(receipt.variant_id)
        line = by_variant.get(variant_id) if variant_id is not None else None
        if line is None:
            errors.append(FieldError(f"lines.{i}.variant_id", "not_on_transfer", "Not a line of this transfer."))
            continue
        outstanding = line.quantity - line.quantity_received - arriving.get(line.id, 0)
        if receipt.quantity > outstanding:
            errors.append(FieldError(f"lines.{i}.quantity", "over_receipt",
                                     f"Only {max(outstanding, 0)} of this line are still in transit."))
        arriving[line.id] = arriving.get(line.id, 0) + receipt.quantity
        matched.append((line, receipt))
    if errors:
        raise InvalidInventory(errors, "The receipt does not match the transfer.")
    for line, receipt in sorted(matched, key=lambda pair: pair[0].variant_id):
        await stock.change_on_hand(
            session, variant_id=line.variant_id, warehouse_id=transfer.to_warehouse_id, delta=receipt.quantity,
            kind="transfer_in", actor=actor, reason=f"transfer {transfer.number}",
            reference_type="transfer", reference_id=str(transfer.id),
            lot_number=receipt.lot_number, expires_on=receipt.expires_on,
        )
        line.quantity_received += receipt.quantity
    complete = all(line.quantity_received >= line.quantity for line in lines)
    transfer.status = "received" if complete else "partially_received"
    if complete:
        transfer.received_at = utcnow()
        await emit(session, {
            "transfer_id": transfer.id, "number": transfer.number,
            "from_warehouse_id": transfer.from_warehouse_id, "to_warehouse_id": transfer.to_warehouse_id,
            "lines": [{"variant_id": line.variant_id, "quantity": line.quantity} for line in lines],
        }, name="transfer.received")
    return await _saved(session, transfer)


async def cancel(session: AsyncSession, transfer: Transfer) -> TransferDocument:
    require("transfer", transfer.status, "cancelled", _FROM["cancelled"])
    transfer.status = "cancelled"
    return await _saved(session, transfer)


async def _saved(session: AsyncSession, transfer: Transfer, *, bump: bool = True) -> TransferDocument:
    if bump:
        transfer.version += 1
    await session.flush()
    await session.refresh(transfer)
    return await document(session, transfer)


async def in_transit_by_variant(
    session: AsyncSession, variant_ids: Collection[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """Units shipped but not yet received, by (variant, DESTINATION warehouse); pairs with nothing
    in transit are left out."""
    if not variant_ids:
        return {}
    outstanding = func.sum(TransferLine.quantity - TransferLine.quantity_received)
    rows = await session.execute(
        select(TransferLine.variant_id, Transfer.to_warehouse_id, outstanding)
        .join(Transfer, Transfer.id == TransferLine.transfer_id)
        .where(Transfer.status.in_(IN_TRANSIT), TransferLine.variant_id.in_(variant_ids))
        .group_by(TransferLine.variant_id, Transfer.to_warehouse_id)
    )
    return {(variant_id, warehouse_id): int(quantity) for variant_id, warehouse_id, quantity in rows.all()
            if quantity}
