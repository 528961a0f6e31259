"""/admin/tax/classes, /admin/tax/zones (with their rates) and /admin/tax/lookup.

Reads need `settings:read`, changes `settings:manage`. Updates and deletes take `If-Match` (412
when stale); a zone's ETag covers its rates.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.settings import Settings
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.pricing import tax_service as service
from mercato.modules.pricing.tax_models import TaxClass, TaxZone
from mercato.modules.pricing.tax_schemas import (
    ClassIn,
    ClassList,
    ClassOut,
    ClassUpdateIn,
    LookupOut,
    RatesIn,
    ZoneIn,
    ZoneList,
    ZoneOut,
    ZoneUpdateIn,
    class_out,
    resolved_out,
    zone_out,
)

classes = APIRouter(prefix="/admin/tax/classes", tags=["admin: tax"], route_class=MercatoRoute)
zones = APIRouter(prefix="/admin/tax/zones", tags=["admin: tax"], route_class=MercatoRoute)
lookup = APIRouter(prefix="/admin/tax/lookup", tags=["admin: tax"], route_class=MercatoRoute)

READ = require_permission("settings:read")
WRITE = require_permission("settings:manage")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


def _class_etag(tax_class: TaxClass) -> str:
    return etag_for("tax_class", tax_class.code, tax_class.version)


def _zone_etag(zone: TaxZone) -> str:
    return etag_for(zone.id, zone.version)


def _class_out(tax_class: TaxClass) -> ClassOut:
    return class_out(tax_class, built_in=tax_class.code in service.BUILT_IN_CLASSES)


def _rates(body: RatesIn | ZoneIn) -> list[service.RateData]:
    return [service.RateData(r.tax_class, r.rate_ppm, r.name) for r in body.rates]


async def _zone_out(session: AsyncSession, zone: TaxZone) -> ZoneOut:
    return zone_out(zone, (await service.rates_of(session, [zone.id]))[zone.id])


# ---------------------------------------------------------------------------------------------
# classes


@classes.get("", response_model=ClassList, responses=problem_responses(401, 403, 422))
async def list_classes(
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> ClassList:
    """Ordered by code. `standard`, `zero` and `exempt` are built in (`built_in: true`)."""
    result = await service.list_classes(session, limit=page.limit, cursor=page.cursor)
    return ClassList(items=[_class_out(c) for c in result.items], next_cursor=result.next_cursor)


@classes.post("", status_code=201, response_model=ClassOut,
              responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_class(
    body: ClassIn, response: Response, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ClassOut:
    """A code another class has → 409 `tax.class_code_taken`."""
    tax_class = await service.create_class(session, code=body.code, name=body.name, description=body.description)
    response.headers["ETag"] = _class_etag(tax_class)
    response.headers["Location"] = f"/admin/tax/classes/{tax_class.code}"
    return _class_out(tax_class)


@classes.get("/{code}", response_model=ClassOut, responses=problem_responses(401, 403, 404))
async def get_class(
    code: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ClassOut:
    tax_class = await service.get_class(session, code)
    response.headers["ETag"] = _class_etag(tax_class)
    return _class_out(tax_class)


@classes.patch("/{code}", response_model=ClassOut, responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def update_class(
    code: str, body: ClassUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ClassOut:
    tax_class = await service.get_class(session, code, lock=True)
    check_if_match(if_match, _class_etag(tax_class))
    changes = body.model_dump(exclude_unset=True)
    tax_class = await service.update_class(
        session, tax_class, name=changes.get("name") or tax_class.name,
        description=changes.get("description", tax_class.description),
    )
    response.headers["ETag"] = _class_etag(tax_class)
    return _class_out(tax_class)


@classes.delete("/{code}", status_code=204, response_class=Response,
                responses=problem_responses(401, 403, 404, 409, 412))
async def delete_class(
    code: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """Deletes the class's rates too. A built-in class, or one variants use → 409 `tax.class_in_use`."""
    tax_class = await service.get_class(session, code, lock=True)
    check_if_match(if_match, _class_etag(tax_class))
    await service.delete_class(session, tax_class)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# zones


@zones.get("", response_model=ZoneList, responses=problem_responses(401, 403, 422))
async def list_zones(
    page: PageParams = Depends(page_params),
    country: str | None = Query(default=None, min_length=2, max_length=2, description="Only this country's zones"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ZoneList:
    """Ordered by country, then code; each zone with its rates (two queries per page)."""
    result = await service.list_zones(session, country=country, limit=page.limit, cursor=page.cursor)
    rates = await service.rates_of(session, [z.id for z in result.items])
    return ZoneList(items=[zone_out(z, rates[z.id]) for z in result.items], next_cursor=result.next_cursor)


@zones.post("", status_code=201, response_model=ZoneOut, responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_zone(
    body: ZoneIn, response: Response, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    """A country that is not ISO 3166-1 alpha-2, a malformed region or prefix, a rate for an unknown
    class (or for `zero`/`exempt`, fixed at 0), or a class twice → 422 `tax.invalid` naming the
    field; a code or an area (country, region, prefix) another zone has → 409
    `tax.zone_code_taken` / `tax.zone_area_taken`."""
    data = service.ZoneData(body.code, body.name, body.country, body.region, body.postcode_prefix)
    zone = await service.create_zone(session, data, _rates(body))
    response.headers["ETag"] = _zone_etag(zone)
    response.headers["Location"] = f"/admin/tax/zones/{zone.id}"
    return await _zone_out(session, zone)


@zones.get("/{zone_id}", response_model=ZoneOut, responses=problem_responses(401, 403, 404))
async def get_zone(
    zone_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    zone = await service.get_zone(session, zone_id)
    response.headers["ETag"] = _zone_etag(zone)
    return await _zone_out(session, zone)


@zones.patch("/{zone_id}", response_model=ZoneOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_zone(
    zone_id: str, body: ZoneUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    zone = await service.get_zone(session, zone_id, lock=True)
    check_if_match(if_match, _zone_etag(zone))
    current = {"code": zone.code, "name": zone.name, "country": zone.country, "region": zone.region,
               "postcode_prefix": zone.postcode_prefix}
    changes = body.model_dump(exclude_unset=True)
    for required in ("code", "name", "country"):
        if changes.get(required, "") is None:
            changes.pop(required)  # null is not a value these can take: left as they are
    zone = await service.update_zone(session, zone, service.ZoneData(**{**current, **changes}))
    response.headers["ETag"] = _zone_etag(zone)
    return await _zone_out(session, zone)


@zones.put("/{zone_id}/rates", response_model=ZoneOut,
           responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def replace_rates(
    zone_id: str, body: RatesIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ZoneOut:
    """Replace all the zone's rates, all or none (same checks as on create)."""
    zone = await service.get_zone(session, zone_id, lock=True)
    check_if_match(if_match, _zone_etag(zone))
    zone = await service.replace_rates(session, zone, _rates(body))
    response.headers["ETag"] = _zone_etag(zone)
    return await _zone_out(session, zone)


@zones.delete("/{zone_id}", status_code=204, response_class=Response,
              responses=problem_responses(401, 403, 404, 412))
async def delete_zone(
    zone_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    zone = await service.get_zone(session, zone_id, lock=True)
    check_if_match(if_match, _zone_etag(zone))
    await service.delete_zone(session, zone)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# lookup


@lookup.get("", response_model=LookupOut, responses=problem_responses(401, 403, 422))
async def lookup_rates(
    request: Request,
    country: str = Query(min_length=2, max_length=2),
    region: str | None = Query(default=None, max_length=10),
    postal_code: str | None = Query(default=None, max_length=20),
    tax_class: list[str] = Query(default=["standard"], max_length=50, description="Repeat for several classes"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> LookupOut:
    """Which rate each class gets at an address, and from which zone: what checkout will apply."""
    settings: Settings = request.app.state.settings
    provider = service.provider_named(settings.tax_provider)
    rates = await service.rates_for(session, country=country, region=region, postal_code=postal_code,
                                    tax_classes=tax_class, provider=provider)
    return LookupOut(country=country.upper(), region=region, postal_code=postal_code, provider=provider.name,
                     rates=[resolved_out(r) for r in rates.values()])


routers = [classes, zones, lookup]
