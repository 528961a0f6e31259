"""/admin/inventory/reservations and /allocations: holds for carts, allocations for orders, shipments.

Checkout calls the stock service directly; these routes serve other sales channels (a POS, an
ERP's order import) and operations. Changes need `inventory:write`, reads `inventory:read`.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError, NotFound
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules import channels
from mercato.modules.inventory import rules, stock
from mercato.modules.inventory.errors import AllocationNotFound, InvalidInventory, ReservationNotFound
from mercato.modules.inventory.schemas.reservations import (
    AllocateIn,
    AllocationList,
    AllocationOut,
    Count,
    DiscrepancyOut,
    ReferenceIn,
    RefreshIn,
    ReleaseIn,
    ReservationIn,
    ReservationList,
    ReservationOut,
    ShipmentIn,
    VerifyOut,
)

router = APIRouter(prefix="/admin/inventory", tags=["admin: inventory"], route_class=MercatoRoute)
routers = [router]

READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
DEFAULT_TTL_S = 900


def _reservation_out(r: stock.ReservationRow) -> ReservationOut:
    return ReservationOut(id=str(r.id), variant_id=str(r.variant_id), warehouse_id=str(r.warehouse_id),
                          quantity=r.quantity, expires_at=r.expires_at)


def _allocation_out(a: stock.AllocationRow) -> AllocationOut:
    return AllocationOut(id=str(a.id), reference=a.reference, variant_id=str(a.variant_id),
                         warehouse_id=str(a.warehouse_id), quantity=a.quantity, shipped=a.shipped, lots=a.lots)


@router.post("/reservations", status_code=201, response_model=ReservationList,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
@idempotent
async def create_reservation(body: ReservationIn, principal: Principal = Depends(WRITE),
                             session: AsyncSession = Depends(get_session)) -> ReservationList:
    """Hold every line or none: not enough stock → 409 `inventory.insufficient_stock` (field errors
    name the short variants). Several calls with one reference add up."""
    errors: list[FieldError] = []
    variant_ids = []
    for i, line in enumerate(body.lines):
        variant_id = parse_id(line.variant_id)
        if variant_id is None:
            errors.append(FieldError(f"lines[{i}].variant_id", "invalid", "Not an id."))
        variant_ids.append(variant_id)
    if body.strategy not in rules.STRATEGIES:
        errors.append(FieldError("strategy", "invalid", f"One of {', '.join(rules.STRATEGIES)}."))
    country = body.country.upper() if body.country else None
    if country is not None and not country.isalpha():
        errors.append(FieldError("country", "invalid", "An ISO 3166-1 alpha-2 code."))
    if errors:
        raise InvalidInventory(errors)
    ttl_s = body.ttl_s or DEFAULT_TTL_S
    channel_id = None
    if body.channel is not None:
        channel = await channels.channel_by_code(session, body.channel)
        if channel is None:
            raise NotFound("No such active channel.", code="channel.not_found")
        channel_id = channel.id
        ttl_s = body.ttl_s or channel.reservation_ttl_s
    lines = [stock.ReserveLine(v, line.quantity) for v, line in zip(variant_ids, body.lines, strict=True) if v]
    held = await stock.reserve(
        session, reference=body.reference, lines=lines, channel_id=channel_id, country=country,
        ttl=timedelta(seconds=ttl_s), strategy=body.strategy,
        destination=(body.destination.latitude, body.destination.longitude) if body.destination else None,
        actor=principal.scope)
    return ReservationList(reference=body.reference, items=[_reservation_out(r) for r in held])


@router.get("/reservations", response_model=ReservationList, responses=problem_responses(401, 403, 422))
async def list_reservations(reference: str = Query(min_length=1, max_length=200), _: Principal = Depends(READ),
                            session: AsyncSession = Depends(get_session)) -> ReservationList:
    held = await stock.reservations(session, reference)
    return ReservationList(reference=reference, items=[_reservation_out(r) for r in held])


@router.post("/reservations/refresh", response_model=Count,
             responses=problem_responses(400, 401, 403, 404, 415, 422))
async def refresh_reservation(body: RefreshIn, _: Principal = Depends(WRITE),
                              session: AsyncSession = Depends(get_session)) -> Count:
    """Extend a live hold (an expired one → 404 `inventory.reservation_not_found`)."""
    count = await stock.refresh(session, body.reference, timedelta(seconds=body.ttl_s))
    if count == 0:
        raise ReservationNotFound()
    return Count(count=count)


@router.post("/reservations/release", response_model=Count, responses=problem_responses(400, 401, 403, 415, 422))
async def release_reservation(body: ReleaseIn, principal: Principal = Depends(WRITE),
                              session: AsyncSession = Depends(get_session)) -> Count:
    """Give the held units back (all, or the listed variants'); `count` is the units released."""
    variant_ids = None
    if body.variant_ids is not None:
        parsed = [parse_id(v) for v in body.variant_ids]
        bad = [FieldError(f"variant_ids[{i}]", "invalid", "Not an id.") for i, v in enumerate(parsed) if v is None]
        if bad:
            raise InvalidInventory(bad)
        variant_ids = [v for v in parsed if v is not None]
    return Count(count=await stock.release(session, body.reference, actor=principal.scope, variant_ids=variant_ids))


@router.post("/allocations", status_code=201, response_model=AllocationList,
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
@idempotent
async def allocate(body: AllocateIn, principal: Principal = Depends(WRITE),
                   session: AsyncSession = Depends(get_session)) -> AllocationList:
    """Turn a hold into allocations for an order. Nothing held (it expired) → 404."""
    made = await stock.allocate(session, body.reference, order_reference=body.order_reference,
                                actor=principal.scope)
    if not made:
        raise ReservationNotFound()
    return AllocationList(items=[_allocation_out(a) for a in made])


@router.get("/allocations", response_model=AllocationList, responses=problem_responses(401, 403, 422))
async def list_allocations(reference: str = Query(min_length=1, max_length=200), _: Principal = Depends(READ),
                           session: AsyncSession = Depends(get_session)) -> AllocationList:
    return AllocationList(items=[_allocation_out(a) for a in await stock.allocations(session, reference)])


@router.post("/allocations/{allocation_id}/shipments", status_code=201, response_model=AllocationOut,
             responses=problem_responses(400, 401, 403, 404, 415, 422))
@idempotent
async def ship(allocation_id: str, body: ShipmentIn, principal: Principal = Depends(WRITE),
               session: AsyncSession = Depends(get_session)) -> AllocationOut:
    """Units leave the warehouse: on hand and allocated drop; lots FEFO as allocated."""
    parsed = parse_id(allocation_id)
    if parsed is None:
        raise AllocationNotFound()
    return _allocation_out(await stock.ship(session, parsed, body.quantity, actor=principal.scope,
                                            reference_id=body.reference_id))


@router.post("/allocations/release", response_model=Count, responses=problem_responses(400, 401, 403, 415, 422))
async def deallocate(body: ReferenceIn, principal: Principal = Depends(WRITE),
                     session: AsyncSession = Depends(get_session)) -> Count:
    """An order was cancelled: what it has allocated and not shipped becomes available again."""
    return Count(count=await stock.deallocate(session, body.reference, actor=principal.scope))


@router.get("/verify", response_model=VerifyOut, responses=problem_responses(401, 403))
async def verify(_: Principal = Depends(READ), session: AsyncSession = Depends(get_session)) -> VerifyOut:
    """The ledger invariant for every stock row (what `mercato inventory verify` checks)."""
    found = await stock.verify(session)
    return VerifyOut(ok=not found, discrepancies=[
        DiscrepancyOut(stock_id=str(d.stock_id), what=d.what, expected=d.expected, actual=d.actual) for d in found])
