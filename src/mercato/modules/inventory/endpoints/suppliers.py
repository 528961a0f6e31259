"""/admin/suppliers: who purchase orders go to (`inventory:read` / `inventory:write`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.inventory import suppliers as service
from mercato.modules.inventory.models import Supplier
from mercato.modules.inventory.schemas.replenishment import (
    SupplierIn,
    SupplierList,
    SupplierOut,
    SupplierUpdateIn,
    supplier_out,
)

router = APIRouter(prefix="/admin/suppliers", tags=["admin: inventory"], route_class=MercatoRoute)
READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")
_REQUIRED = ("code", "name", "address", "lead_time_days", "is_active")


def _etag(supplier: Supplier) -> str:
    return etag_for(supplier.id, supplier.version)


@router.get("", response_model=SupplierList, responses=problem_responses(401, 403, 422))
async def list_suppliers(
    page: PageParams = Depends(page_params),
    is_active: bool | None = Query(default=None, description="Only active (true) or inactive (false) ones"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> SupplierList:
    """Ordered by code."""
    result = await service.list_suppliers(session, is_active=is_active, limit=page.limit, cursor=page.cursor)
    return SupplierList(items=[supplier_out(s) for s in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=SupplierOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_supplier(
    body: SupplierIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> SupplierOut:
    """A code another supplier has → 409 `inventory.supplier_code_taken`."""
    data = service.SupplierData(**{**body.model_dump(exclude={"address"}),
                                   "address": body.address.model_dump(exclude_none=True)})
    supplier = await service.create_supplier(session, data)
    response.headers["ETag"] = _etag(supplier)
    response.headers["Location"] = f"/admin/suppliers/{supplier.id}"
    return supplier_out(supplier)


@router.get("/{supplier_id}", response_model=SupplierOut, responses=problem_responses(401, 403, 404))
async def get_supplier(
    supplier_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> SupplierOut:
    """An unknown (or malformed) id → 404 `inventory.not_found`."""
    supplier = await service.get_supplier(session, supplier_id)
    response.headers["ETag"] = _etag(supplier)
    return supplier_out(supplier)


@router.patch("/{supplier_id}", response_model=SupplierOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_supplier(
    supplier_id: str, body: SupplierUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> SupplierOut:
    """Fields left out keep their value (`address` is replaced whole). A code another supplier has
    → 409 `inventory.supplier_code_taken`; a stale `If-Match` → 412."""
    supplier = await service.get_supplier(session, supplier_id, lock=True)
    check_if_match(if_match, _etag(supplier))
    changes = body.model_dump(exclude_unset=True)
    for required in _REQUIRED:
        if changes.get(required, "") is None:
            changes.pop(required)  # null is not a value these can take: left as they are
    if body.address is not None and "address" in changes:
        changes["address"] = body.address.model_dump(exclude_none=True)
    supplier = await service.update_supplier(session, supplier, changes)
    response.headers["ETag"] = _etag(supplier)
    return supplier_out(supplier)


@router.delete("/{supplier_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 412))
async def delete_supplier(
    supplier_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """A supplier purchase orders name → 409 `inventory.supplier_in_use` (deactivate it instead)."""
    supplier = await service.get_supplier(session, supplier_id, lock=True)
    check_if_match(if_match, _etag(supplier))
    await service.delete_supplier(session, supplier)
    return Response(status_code=204)


routers = [router]
