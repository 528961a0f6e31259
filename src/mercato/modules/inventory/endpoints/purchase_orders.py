"""/admin/purchase-orders: ordering stock from suppliers and receiving it (`inventory:read` /
`inventory:write`).

Life cycle: draft → sent (`/send`) → partially_received → received (both by `/receipts`) → closed
(`/close`); a draft, or a sent order nothing has arrived for, can be cancelled (`/cancel`). An
action the current status does not allow → 409 `inventory.invalid_transition`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules.inventory import purchase_orders as service
from mercato.modules.inventory.models import PurchaseOrder
from mercato.modules.inventory.schemas.replenishment import (
    OrderLineIn,
    PurchaseOrderIn,
    PurchaseOrderList,
    PurchaseOrderOut,
    PurchaseOrderStatus,
    PurchaseOrderUpdateIn,
    ReceiptIn,
    order_out,
    order_summary,
)

router = APIRouter(prefix="/admin/purchase-orders", tags=["admin: inventory"], route_class=MercatoRoute)
READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
IfMatch = Header(default=None, description="ETag of the version you acted on (412 if stale)")
_REQUIRED = ("supplier_id", "warehouse_id", "currency", "lines")


def _etag(order: PurchaseOrder) -> str:
    return etag_for(order.id, order.version)


def _lines(lines: list[OrderLineIn]) -> list[service.LineData]:
    return [service.LineData(line.variant_id, line.quantity_ordered, line.unit_cost) for line in lines]


def _answer(doc: service.OrderDocument, response: Response) -> PurchaseOrderOut:
    response.headers["ETag"] = _etag(doc.order)
    return order_out(doc)


@router.get("", response_model=PurchaseOrderList, responses=problem_responses(401, 403, 422))
async def list_orders(
    page: PageParams = Depends(page_params),
    status: PurchaseOrderStatus | None = Query(default=None, description="Only orders in this status"),
    supplier_id: str | None = Query(default=None, max_length=36),
    warehouse_id: str | None = Query(default=None, max_length=36),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> PurchaseOrderList:
    """Newest first, without lines (GET one order for them)."""
    supplier, warehouse = parse_id(supplier_id or ""), parse_id(warehouse_id or "")
    if (supplier_id is not None and supplier is None) or (warehouse_id is not None and warehouse is None):
        return PurchaseOrderList(items=[], next_cursor=None)
    result = await service.list_orders(session, status=status, supplier_id=supplier, warehouse_id=warehouse,
                                       limit=page.limit, cursor=page.cursor)
    totals = await service.order_totals(session, [o.id for o in result.items])
    return PurchaseOrderList(items=[order_summary(o, totals.get(o.id, 0)) for o in result.items],
                             next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=PurchaseOrderOut,
             responses=problem_responses(400, 401, 403, 415, 422))
async def create_order(
    body: PurchaseOrderIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """A draft numbered PO-000001, PO-000002, ... An unknown supplier, warehouse or variant, an
    inactive supplier, a currency that is not ISO 4217, or a variant on two lines → 422
    `inventory.invalid` naming each field (`supplier_id`, `lines.1.variant_id`, ...)."""
    doc = await service.create_order(session, service.OrderData(
        supplier_id=body.supplier_id, warehouse_id=body.warehouse_id, currency=body.currency,
        expected_at=body.expected_at, notes=body.notes, lines=_lines(body.lines),
    ))
    response.headers["Location"] = f"/admin/purchase-orders/{doc.order.id}"
    return _answer(doc, response)


@router.get("/{order_id}", response_model=PurchaseOrderOut, responses=problem_responses(401, 403, 404))
async def get_order(
    order_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """With its lines, their totals (quantity ordered × unit cost) and the order's totals."""
    order = await service.get_order(session, order_id)
    return _answer(await service.document(session, order), response)


@router.patch("/{order_id}", response_model=PurchaseOrderOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_order(
    order_id: str, body: PurchaseOrderUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """A draft takes any field; `lines` replaces every line (lines of variants kept keep their id).
    Once sent only `expected_at` and `notes` may change (anything else → 409
    `inventory.invalid_transition`), until the order is received, closed or cancelled."""
    order = await service.get_order(session, order_id, lock=True)
    check_if_match(if_match, _etag(order))
    changes = body.model_dump(exclude_unset=True)
    for required in _REQUIRED:
        if changes.get(required, "") is None:
            changes.pop(required)  # null is not a value these can take: left as they are
    if "lines" in changes and body.lines is not None:
        changes["lines"] = _lines(body.lines)
    return _answer(await service.update_order(session, order, changes), response)


@router.post("/{order_id}/send", response_model=PurchaseOrderOut,
             responses=problem_responses(401, 403, 404, 409, 412, 422))
async def send_order(
    order_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """Draft → sent; its lines can no longer change. An order without lines → 422 `inventory.invalid`
    (field `lines`); not a draft → 409 `inventory.invalid_transition`."""
    order = await service.get_order(session, order_id, lock=True)
    check_if_match(if_match, _etag(order))
    return _answer(await service.send_order(session, order), response)


@router.post("/{order_id}/receipts", status_code=201, response_model=PurchaseOrderOut,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
@idempotent
async def receive(
    order_id: str, body: ReceiptIn, response: Response, principal: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """Record what arrived: each entry names an order line by `line_id` or `variant_id` (a line may
    appear once per lot) and becomes a `receipt` movement at the order's warehouse. The order
    becomes partially_received, or received once every line has arrived in full
    (`purchase_order.received` event).

    Over-receipt is refused, not accepted: more than a line still expects → 422
    `inventory.invalid` (`lines.N.quantity`, code `over_receipt`) and nothing is recorded; so does a
    line not on the order (`not_on_order`), or a lot-tracked variant without `lot_number` (422
    `inventory.lot_required`). Only a sent or partially received order takes receipts (409
    `inventory.invalid_transition`). Send an `Idempotency-Key` to retry safely."""
    order = await service.get_order(session, order_id, lock=True)
    receipts = [service.ReceiptData(line_id=r.line_id, variant_id=r.variant_id, quantity=r.quantity,
                                    lot_number=r.lot_number, expires_on=r.expires_on) for r in body.lines]
    return _answer(await service.receive(session, order, receipts, actor=principal.scope), response)


@router.post("/{order_id}/close", response_model=PurchaseOrderOut,
             responses=problem_responses(401, 403, 404, 409, 412))
async def close_order(
    order_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """Sent, partially received or received → closed, keeping what arrived: nothing more is
    expected. Otherwise → 409 `inventory.invalid_transition`."""
    order = await service.get_order(session, order_id, lock=True)
    check_if_match(if_match, _etag(order))
    return _answer(await service.close_order(session, order), response)


@router.post("/{order_id}/cancel", response_model=PurchaseOrderOut,
             responses=problem_responses(401, 403, 404, 409, 412))
async def cancel_order(
    order_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PurchaseOrderOut:
    """Only a draft, or a sent order nothing has arrived for; otherwise → 409
    `inventory.invalid_transition` (close it instead)."""
    order = await service.get_order(session, order_id, lock=True)
    check_if_match(if_match, _etag(order))
    return _answer(await service.cancel_order(session, order), response)


routers = [router]
