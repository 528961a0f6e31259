"""/admin/shipping: zones, methods and a quote preview. Reads need `settings:read`, changes `settings:manage`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.shipping import quotes, service
from mercato.modules.shipping.models import ShippingMethod, ShippingZone
from mercato.modules.shipping.schemas import (
    MethodIn,
    MethodList,
    MethodOut,
    MethodUpdateIn,
    OptionOut,
    ZoneIn,
    ZoneList,
    ZoneOut,
    ZoneUpdateIn,
    method_out,
    option_out,
    zone_out,
)

router = APIRouter(prefix="/admin/shipping", tags=["admin: shipping"], route_class=MercatoRoute)
READ = require_permission("settings:read")
WRITE = require_permission("settings:manage")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


def _zone_etag(zone: ShippingZone) -> str:
    return etag_for(zone.id, zone.version)


def _method_etag(method: ShippingMethod) -> str:
    return etag_for(method.id, method.version)


# ---------------------------------------------------------------------------------------------
# zones


@router.get("/zones", response_model=ZoneList, responses=problem_responses(401, 403, 422))
async def list_zones(
    page: PageParams = Depends(page_params),
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$", description="Only zones with an area "
                                                                                "in this country")] = None,
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ZoneList:
    """Ordered by code."""
    result = await service.list_zones(session, country=country, limit=page.limit, cursor=page.cursor)
    areas = await service.areas_of(session, [z.id for z in result.items])
    return ZoneList(items=[zone_out(z, areas[z.id]) for z in result.items], next_cursor=result.next_cursor)


@router.post("/zones", status_code=201, response_model=ZoneOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_zone(
    body: ZoneIn, response: Response, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    """A code another zone has → 409 `shipping.zone_code_taken`. A country that is not ISO 3166-1,
    a region the country does not have, a malformed postcode prefix or range, an area given twice
    or an unknown channel → 422 `shipping.invalid` naming each field (`areas.1.postal_to`)."""
    data = service.ZoneData(**{**body.model_dump(exclude={"areas"}), "areas": [a.data() for a in body.areas]})
    zone = await service.create_zone(session, data)
    areas = await service.areas_of(session, [zone.id])
    response.headers["ETag"] = _zone_etag(zone)
    response.headers["Location"] = f"/admin/shipping/zones/{zone.id}"
    return zone_out(zone, areas[zone.id])


@router.get("/zones/{zone_id}", response_model=ZoneOut, responses=problem_responses(401, 403, 404))
async def get_zone(
    zone_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    zone = await service.get_zone(session, zone_id)
    areas = await service.areas_of(session, [zone.id])
    response.headers["ETag"] = _zone_etag(zone)
    return zone_out(zone, areas[zone.id])


@router.patch("/zones/{zone_id}", response_model=ZoneOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_zone(
    zone_id: str, body: ZoneUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    """Only the fields sent change; `areas` replaces every area. Errors as for creating."""
    zone = await service.get_zone(session, zone_id, lock=True)
    check_if_match(if_match, _zone_etag(zone))
    current = service.zone_data_of(zone, (await service.areas_of(session, [zone.id]))[zone.id])
    changes = {k: v for k, v in body.model_dump(exclude_unset=True, exclude={"areas"}).items() if v is not None}
    if body.areas is not None:
        changes["areas"] = [a.data() for a in body.areas]
    zone = await service.update_zone(session, zone, dataclasses.replace(current, **changes))
    areas = await service.areas_of(session, [zone.id])
    response.headers["ETag"] = _zone_etag(zone)
    return zone_out(zone, areas[zone.id])


@router.delete("/zones/{zone_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 412))
async def delete_zone(
    zone_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """Deletes the zone's methods too (orders keep what they were quoted)."""
    zone = await service.get_zone(session, zone_id, lock=True)
    check_if_match(if_match, _zone_etag(zone))
    await service.delete_zone(session, zone)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# methods


@router.get("/methods", response_model=MethodList, responses=problem_responses(401, 403, 422))
async def list_methods(
    page: PageParams = Depends(page_params),
    zone_id: Annotated[str | None, Query(max_length=36, description="Only this zone's methods")] = None,
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> MethodList:
    """Grouped by zone, by code within a zone."""
    parsed = parse_id(zone_id) if zone_id is not None else None
    if zone_id is not None and parsed is None:
        return MethodList(items=[], next_cursor=None)
    result = await service.list_methods(session, zone_id=parsed, limit=page.limit, cursor=page.cursor)
    rates = await service.rates_of(session, [m.id for m in result.items])
    return MethodList(items=[method_out(m, rates[m.id]) for m in result.items], next_cursor=result.next_cursor)


@router.post("/methods", status_code=201, response_model=MethodOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_method(
    body: MethodIn, response: Response, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> MethodOut:
    """A code another method of the zone has → 409 `shipping.method_code_taken`. An unknown zone or
    warehouse, max_days below min_days, a currency that is not ISO 4217 or given twice, or a rate
    that does not fit the kind (missing amount, tiers not strictly increasing, price tiers not
    starting at 0, tiers on a flat method) → 422 `shipping.invalid` naming each field
    (`rates.0.weight_tiers.2.max_grams`)."""
    data = service.MethodData(**{**body.model_dump(exclude={"rates"}), "rates": [r.data() for r in body.rates]})
    method = await service.create_method(session, data)
    rates = await service.rates_of(session, [method.id])
    response.headers["ETag"] = _method_etag(method)
    response.headers["Location"] = f"/admin/shipping/methods/{method.id}"
    return method_out(method, rates[method.id])


@router.get("/methods/{method_id}", response_model=MethodOut, responses=problem_responses(401, 403, 404))
async def get_method(
    method_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> MethodOut:
    method = await service.get_method(session, method_id)
    rates = await service.rates_of(session, [method.id])
    response.headers["ETag"] = _method_etag(method)
    return method_out(method, rates[method.id])


@router.patch("/methods/{method_id}", response_model=MethodOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_method(
    method_id: str, body: MethodUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> MethodOut:
    """Only the fields sent change; `rates` replaces every rate (a change of kind needs rates that
    fit it). Errors as for creating."""
    method = await service.get_method(session, method_id, lock=True)
    check_if_match(if_match, _method_etag(method))
    current = service.method_data_of(method, (await service.rates_of(session, [method.id]))[method.id])
    sent = body.model_dump(exclude_unset=True, exclude={"rates"})
    changes = {k: v for k, v in sent.items() if v is not None or k == "carrier"}
    if body.rates is not None:
        changes["rates"] = [r.data() for r in body.rates]
    method = await service.update_method(session, method, dataclasses.replace(current, **changes))
    rates = await service.rates_of(session, [method.id])
    response.headers["ETag"] = _method_etag(method)
    return method_out(method, rates[method.id])


@router.delete("/methods/{method_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 412))
async def delete_method(
    method_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    method = await service.get_method(session, method_id, lock=True)
    check_if_match(if_match, _method_etag(method))
    await service.delete_method(session, method)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# preview


@router.get("/options", response_model=list[OptionOut], responses=problem_responses(401, 403, 422))
async def preview_options(
    channel_id: Annotated[str, Query(max_length=36)],
    currency: Annotated[str, Query(pattern=r"^[A-Za-z]{3}$")],
    country: Annotated[str, Query(pattern=r"^[A-Za-z]{2}$")],
    region: Annotated[str | None, Query(max_length=100)] = None,
    postal_code: Annotated[str | None, Query(max_length=20)] = None,
    subtotal: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    weight_grams: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> list[OptionOut]:
    """What a cart would be offered, for checking zones and rates: the options of the cart's
    shipping-options endpoint for this channel, address, subtotal and weight (minor units,
    grams). An unknown channel has no options."""
    parsed = parse_id(channel_id)
    if parsed is None:
        return []
    options = await quotes.shipping_options(
        session, channel_id=parsed, currency=currency, country=country, region=region, postal_code=postal_code,
        subtotal=subtotal, weight_grams=weight_grams,
    )
    return [option_out(o) for o in options]


routers = [router]
