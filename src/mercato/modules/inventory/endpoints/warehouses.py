"""/admin/warehouses: where stock lives (`inventory:read` / `inventory:write`)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.inventory import warehouses as service
from mercato.modules.inventory.models import Warehouse
from mercato.modules.inventory.schemas.warehouses import (
    AddressIn,
    WarehouseIn,
    WarehouseList,
    WarehouseOut,
    WarehouseUpdateIn,
    warehouse_out,
)

router = APIRouter(prefix="/admin/warehouses", tags=["admin: inventory"], route_class=MercatoRoute)
READ = require_permission("inventory:read")
WRITE = require_permission("inventory:write")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


def _etag(w: Warehouse) -> str:
    return etag_for(w.id, w.version)


def _address(body: AddressIn) -> service.Address:
    return service.Address(**body.model_dump())


@router.get("", response_model=WarehouseList, responses=problem_responses(401, 403, 422))
async def list_warehouses(
    page: PageParams = Depends(page_params),
    is_active: bool | None = Query(default=None, description="Only active (true) or inactive (false) ones"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> WarehouseList:
    """Ordered by code."""
    result = await service.list_warehouses(session, is_active=is_active, limit=page.limit, cursor=page.cursor)
    return WarehouseList(items=[warehouse_out(w) for w in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=WarehouseOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_warehouse(
    body: WarehouseIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> WarehouseOut:
    """A code another warehouse has → 409 `inventory.warehouse_code_taken`; an unknown channel or a
    country that is not ISO 3166-1 alpha-2 → 422 `inventory.invalid` naming the field
    (`channel_ids[1]`, `ship_countries[0]`, `address.country_code`)."""
    data = service.WarehouseData(**{**body.model_dump(exclude={"address"}), "address": _address(body.address)})
    warehouse = await service.create_warehouse(session, data)
    response.headers["ETag"] = _etag(warehouse)
    response.headers["Location"] = f"/admin/warehouses/{warehouse.id}"
    return warehouse_out(warehouse)


@router.get("/{warehouse_id}", response_model=WarehouseOut, responses=problem_responses(401, 403, 404))
async def get_warehouse(
    warehouse_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> WarehouseOut:
    warehouse = await service.get_warehouse(session, warehouse_id)
    response.headers["ETag"] = _etag(warehouse)
    return warehouse_out(warehouse)


@router.patch("/{warehouse_id}", response_model=WarehouseOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_warehouse(
    warehouse_id: str, body: WarehouseUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> WarehouseOut:
    """Only the fields sent change (`null` clears the coordinates). A change of channels, active flag
    or shipping countries recomputes where the warehouse's stock is sellable."""
    warehouse = await service.get_warehouse(session, warehouse_id, lock=True)
    check_if_match(if_match, _etag(warehouse))
    changes = body.model_dump(exclude_unset=True, exclude={"address"})
    for name in ("code", "name", "priority", "is_active", "click_and_collect", "channel_ids", "ship_countries"):
        if name in changes and changes[name] is None:
            changes.pop(name)  # null is not a value these can take: left as they are
    if body.address is not None:
        changes["address"] = _address(body.address)
    data = dataclasses.replace(service.data_of(warehouse), **changes)
    warehouse = await service.update_warehouse(session, warehouse, data)
    response.headers["ETag"] = _etag(warehouse)
    return warehouse_out(warehouse)


@router.delete("/{warehouse_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 412))
async def delete_warehouse(
    warehouse_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """Only a warehouse that never held stock and no document names → 409 `inventory.warehouse_in_use`
    otherwise (deactivate it instead)."""
    warehouse = await service.get_warehouse(session, warehouse_id, lock=True)
    check_if_match(if_match, _etag(warehouse))
    await service.delete_warehouse(session, warehouse)
    return Response(status_code=204)


routers = [router]
