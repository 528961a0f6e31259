"""/admin/inventory/transfers: moving stock between warehouses (`inventory:read` / `inventory:write`).

Life cycle: draft → in_transit (`/ship`) → partially_received → received (both by `/receipts`); a
draft can be cancelled (`/cancel`). An action the current status does not allow → 409
`inventory.invalid_transition`.
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
from mercato.modules.inventory import transfers as service
from mercato.modules.inventory.models import Transfer
from mercato.modules.inventory.schemas.replenishment import (
    TransferIn,
    TransferList,
    TransferOut,
    TransferReceiptIn,
    TransferStatus,
    transfer_out,
    transfer_summary,
)

router = APIRouter(prefix="/admin/inventory/transfers", tags=["admin: inventory"], route_class=MercatoRoute)
READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
IfMatch = Header(default=None, description="ETag of the version you acted on (412 if stale)")


def _etag(transfer: Transfer) -> str:
    return etag_for(transfer.id, transfer.version)


def _answer(doc: service.TransferDocument, response: Response) -> TransferOut:
    response.headers["ETag"] = _etag(doc.transfer)
    return transfer_out(doc)


@router.get("", response_model=TransferList, responses=problem_responses(401, 403, 422))
async def list_transfers(
    page: PageParams = Depends(page_params),
    status: TransferStatus | None = Query(default=None, description="Only transfers in this status"),
    warehouse_id: str | None = Query(default=None, max_length=36, description="From or to this warehouse"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> TransferList:
    """Newest first, without lines (GET one transfer for them)."""
    warehouse = parse_id(warehouse_id or "")
    if warehouse_id is not None and warehouse is None:
        return TransferList(items=[], next_cursor=None)
    result = await service.list_transfers(session, status=status, warehouse_id=warehouse, limit=page.limit,
                                          cursor=page.cursor)
    return TransferList(items=[transfer_summary(t) for t in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=TransferOut, responses=problem_responses(400, 401, 403, 415, 422))
async def create_transfer(
    body: TransferIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> TransferOut:
    """A draft numbered TR-000001, ... Unknown warehouses or variants, the same warehouse at both
    ends (`to_warehouse_id`, code `same_warehouse`) or a variant on two lines → 422
    `inventory.invalid` naming each field."""
    doc = await service.create_transfer(session, service.TransferData(
        from_warehouse_id=body.from_warehouse_id, to_warehouse_id=body.to_warehouse_id,
        lines=[service.TransferLineData(line.variant_id, line.quantity) for line in body.lines],
    ))
    response.headers["Location"] = f"/admin/inventory/transfers/{doc.transfer.id}"
    return _answer(doc, response)


@router.get("/{transfer_id}", response_model=TransferOut, responses=problem_responses(401, 403, 404))
async def get_transfer(
    transfer_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> TransferOut:
    transfer = await service.get_transfer(session, transfer_id)
    return _answer(await service.document(session, transfer), response)


@router.post("/{transfer_id}/ship", response_model=TransferOut,
             responses=problem_responses(401, 403, 404, 409, 412))
async def ship_transfer(
    transfer_id: str, response: Response, if_match: str | None = IfMatch,
    principal: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> TransferOut:
    """Draft → in_transit: every line leaves the source warehouse (`transfer_out` movements). Not
    enough on hand for any line → 409 `inventory.negative_on_hand` and nothing ships; not a draft →
    409 `inventory.invalid_transition`."""
    transfer = await service.get_transfer(session, transfer_id, lock=True)
    check_if_match(if_match, _etag(transfer))
    return _answer(await service.ship(session, transfer, actor=principal.scope), response)


@router.post("/{transfer_id}/receipts", status_code=201, response_model=TransferOut,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
@idempotent
async def receive_transfer(
    transfer_id: str, body: TransferReceiptIn, response: Response, principal: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> TransferOut:
    """Record what arrived at the destination (`transfer_in` movements): partially_received, or
    received once every line has arrived in full (`transfer.received` event). More than is still
    in transit → 422 `inventory.invalid` (`lines.N.quantity`, code `over_receipt`), a variant not
    on the transfer (`not_on_transfer`), or a lot-tracked variant without `lot_number` (422
    `inventory.lot_required`): nothing is recorded. Only an in-transit or partially received
    transfer takes receipts (409 `inventory.invalid_transition`). Send an `Idempotency-Key` to
    retry safely."""
    transfer = await service.get_transfer(session, transfer_id, lock=True)
    receipts = [service.TransferReceiptData(variant_id=r.variant_id, quantity=r.quantity, lot_number=r.lot_number,
                                            expires_on=r.expires_on) for r in body.lines]
    return _answer(await service.receive(session, transfer, receipts, actor=principal.scope), response)


@router.post("/{transfer_id}/cancel", response_model=TransferOut,
             responses=problem_responses(401, 403, 404, 409, 412))
async def cancel_transfer(
    transfer_id: str, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> TransferOut:
    """Only a draft (nothing has moved yet); otherwise → 409 `inventory.invalid_transition`."""
    transfer = await service.get_transfer(session, transfer_id, lock=True)
    check_if_match(if_match, _etag(transfer))
    return _answer(await service.cancel(session, transfer), response)


routers = [router]
