"""Tax use cases: classes, zones and their rates (admin), and the rate lookup the cart and
checkout call (`rates_for`) through a pluggable `TaxProvider`.

The arithmetic and the choice of rate are pure and live in `tax_rules`; this file reads and writes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from babel import Locale
from sqlalchemy import String, column, delete, exists, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.kit.sql import Executor, Statement
from mercato.modules.pricing.tax_errors import (
    InvalidTax,
    TaxClassCodeTaken,
    TaxClassInUse,
    TaxClassNotFound,
    TaxZoneAreaTaken,
    TaxZoneCodeTaken,
    TaxZoneNotFound,
)
from mercato.modules.pricing.tax_models import TaxClass, TaxZone, TaxZoneRate
from mercato.modules.pricing.tax_rules import (
    MAX_RATE_PPM,
    STANDARD,
    ZERO_CLASSES,
    TaxRate,
    ZoneRate,
    choose_rates,
    normalize_postcode,
    normalize_region,
)

# The catalogue's variants name their class by code; read by table name, as a foreign key would.
_variants = table("variants", column("tax_class", String()))

# Classes the engine relies on: every variant defaults to `standard` (so does shipping); `zero` and
# `exempt` have a fixed 0 rate. They cannot be deleted.
BUILT_IN_CLASSES = frozenset({STANDARD, *ZERO_CLASSES})
MAX_RATES = 100

# ISO 3166-1 alpha-2 codes, as the channels module checks them. ZZ is CLDR's "unknown region",
# EU/UN/EZ/QO are groupings: none is a country.
COUNTRIES = frozenset(
    k for k in Locale("en").territories
    if isinstance(k, str) and len(k) == 2 and k.isalpha() and k.isupper() and k not in {"ZZ", "EU", "UN", "EZ", "QO"}
)
# ISO 3166-2: the part after the country is one to three letters or digits.
_REGION = re.compile(r"^[A-Z0-9]{1,3}$")
_PREFIX = re.compile(r"^[A-Z0-9]{1,10}$")


# ---------------------------------------------------------------------------------------------
# classes


async def list_classes(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[TaxClass]:
    return await keyset_page(session, select(TaxClass), [SortKey(TaxClass.code)], limit=limit, cursor=cursor)


async def get_class(session: AsyncSession, code: str, *, lock: bool = False) -> TaxClass:
    stmt = select(TaxClass).where(TaxClass.code == code)
    found = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise TaxClassNotFound()
    return found


async def create_class(session: AsyncSession, *, code: str, name: str, description: str | None = None) -> TaxClass:
    """A code another class has → 409."""
    created = (await session.execute(
        insert(TaxClass).values(code=code, name=name, description=description, version=1)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(TaxClass)
    )).scalar_one_or_none()
    if created is None:
        raise TaxClassCodeTaken(code)
    return created


async def update_class(session: AsyncSession, tax_class: TaxClass, *, name: str, description: str | None) -> TaxClass:
    """Replace a (locked) class's name and description; its code never changes (variants refer to it)."""
    tax_class.name, tax_class.description = name, description
    tax_class.version += 1
    await session.flush()
    await session.refresh(tax_class)
    return tax_class


async def delete_class(session: AsyncSession, tax_class: TaxClass) -> None:
    """Delete a (locked) class and its rates. Built-in classes and classes variants use → 409."""
    if tax_class.code in BUILT_IN_CLASSES:
        raise TaxClassInUse(f"{tax_class.code!r} is built in: variants and shipping fall back to it.")
    if await session.scalar(select(exists().where(_variants.c.tax_class == tax_class.code))):
        raise TaxClassInUse(f"Variants use the tax class {tax_class.code!r}; move them to another class first.")
    await session.delete(tax_class)
    await session.flush()


# ---------------------------------------------------------------------------------------------
# zones


@dataclass(frozen=True)
class ZoneData:
    code: str
    name: str
    country: str
    region: str | None = None
    postcode_prefix: str | None = None


@dataclass(frozen=True)
class RateData:
    tax_class: str
    rate_ppm: int
    name: str


def _checked_zone(data: ZoneData) -> ZoneData:
    """The zone normalised (upper case; region without its country; prefix without spaces), or 422."""
    country = data.country.strip().upper()
    errors: list[FieldError] = []
    if country not in COUNTRIES:
        errors.append(FieldError("country", "invalid", "Not an ISO 3166-1 alpha-2 country code."))
    region = normalize_region(country, data.region)
    if region is not None and not _REGION.match(region):
        errors.append(FieldError("region", "invalid",
                                 "An ISO 3166-2 subdivision code, e.g. 'NY' or 'US-NY' (1 to 3 letters or digits)."))
    prefix = normalize_postcode(data.postcode_prefix)
    if prefix is not None and not _PREFIX.match(prefix):
        errors.append(FieldError("postcode_prefix", "invalid",
                                 "1 to 10 letters or digits (spaces and dashes ignored)."))
    if errors:
        raise InvalidTax(errors, "The tax zone is not valid.")
    return ZoneData(data.code, data.name, country, region, prefix)


async def _check_rates(session: AsyncSession, rates: Sequence[RateData]) -> None:
    errors: list[FieldError] = []
    if len(rates) > MAX_RATES:
        errors.append(FieldError("rates", "too_many", f"At most {MAX_RATES} rates per zone."))
    wanted = {r.tax_class for r in rates}
    known = set((await session.execute(select(TaxClass.code).where(TaxClass.code.in_(wanted)))).scalars()) \
        if wanted else set()
    seen: set[str] = set()
    for i, rate in enumerate(rates):
        if rate.tax_class in ZERO_CLASSES:
            errors.append(FieldError(f"rates.{i}.tax_class", "fixed",
                                     f"{rate.tax_class!r} is always 0; it has no rate."))
        elif rate.tax_class not in known:
            errors.append(FieldError(f"rates.{i}.tax_class", "unknown", "No tax class has this code."))
        elif rate.tax_class in seen:
            errors.append(FieldError(f"rates.{i}.tax_class", "duplicate", "This class appears twice."))
        seen.add(rate.tax_class)
        if not 0 <= rate.rate_ppm <= MAX_RATE_PPM:
            errors.append(FieldError(f"rates.{i}.rate_ppm", "out_of_range", "Between 0 and 1000000 (100 %)."))
    if errors:
        raise InvalidTax(errors, "Some rates are not valid.")


async def _check_unique(session: AsyncSession, data: ZoneData, *, other_than: uuid.UUID | None) -> None:
    others = [TaxZone.id != other_than] if other_than is not None else []
    if await session.scalar(select(exists().where(TaxZone.code == data.code, *others))):
        raise TaxZoneCodeTaken(data.code)
    same_area = (
        TaxZone.country == data.country,
        TaxZone.region.is_(None) if data.region is None else TaxZone.region == data.region,
        (TaxZone.postcode_prefix.is_(None) if data.postcode_prefix is None
         else TaxZone.postcode_prefix == data.postcode_prefix),
    )
    if await session.scalar(select(exists().where(*same_area, *others))):
        raise TaxZoneAreaTaken()


async def _flush_zone(session: AsyncSession, data: ZoneData) -> None:
    """Flush, turning a unique violation a concurrent writer caused after our check into a 409."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_tax_zones_code" in str(exc.orig):
            raise TaxZoneCodeTaken(data.code) from exc
        raise TaxZoneAreaTaken() from exc


async def list_zones(
    session: AsyncSession, *, country: str | None, limit: int, cursor: str | None
) -> Page[TaxZone]:
    """Ordered by country, then code."""
    stmt = select(TaxZone)
    if country is not None:
        stmt = stmt.where(TaxZone.country == country.strip().upper())
    return await keyset_page(session, stmt, [SortKey(TaxZone.country), SortKey(TaxZone.code)], limit=limit,
                             cursor=cursor)


async def get_zone(session: AsyncSession, zone_id: str, *, lock: bool = False) -> TaxZone:
    parsed = parse_id(zone_id)
    if parsed is None:
        raise TaxZoneNotFound()
    stmt = select(TaxZone).where(TaxZone.id == parsed)
    zone = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if zone is None:
        raise TaxZoneNotFound()
    return zone


async def rates_of(session: AsyncSession, zone_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TaxZoneRate]]:
    """The rates of several zones in one query, each zone's ordered by class."""
    found: dict[uuid.UUID, list[TaxZoneRate]] = {z: [] for z in zone_ids}
    if zone_ids:
        rows = (await session.execute(
            select(TaxZoneRate).where(TaxZoneRate.zone_id.in_(zone_ids))
            .order_by(TaxZoneRate.zone_id, TaxZoneRate.tax_class)
        )).scalars()
        for rate in rows:
            found[rate.zone_id].append(rate)
    return found


async def _write_rates(session: AsyncSession, zone: TaxZone, rates: Sequence[RateData]) -> None:
    await session.execute(delete(TaxZoneRate).where(TaxZoneRate.zone_id == zone.id))
    if rates:
        await session.execute(insert(TaxZoneRate).values([
            {"zone_id": zone.id, "tax_class": r.tax_class, "rate_ppm": r.rate_ppm, "name": r.name} for r in rates
        ]))


async def create_zone(session: AsyncSession, data: ZoneData, rates: Sequence[RateData] = ()) -> TaxZone:
    """A zone with its rates, all or nothing: invalid fields or rates → 422 `tax.invalid`; a code
    or an area (country, region, prefix) another zone has → 409."""
    data = _checked_zone(data)
    await _check_rates(session, rates)
    await _check_unique(session, data, other_than=None)
    zone = TaxZone(code=data.code, name=data.name, country=data.country, region=data.region,
                   postcode_prefix=data.postcode_prefix, version=1)
    session.add(zone)
    await _flush_zone(session, data)
    await _write_rates(session, zone, rates)
    await session.refresh(zone)
    return zone


async def update_zone(session: AsyncSession, zone: TaxZone, data: ZoneData) -> TaxZone:
    """Replace a (locked) zone's fields (the endpoint merges a partial update into `data`)."""
    data = _checked_zone(data)
    await _check_unique(session, data, other_than=zone.id)
    zone.code, zone.name, zone.country = data.code, data.name, data.country
    zone.region, zone.postcode_prefix = data.region, data.postcode_prefix
    zone.version += 1
    await _flush_zone(session, data)
    await session.refresh(zone)
    return zone


async def replace_rates(session: AsyncSession, zone: TaxZone, rates: Sequence[RateData]) -> TaxZone:
    """Replace all rates of a (locked) zone at once; the zone's version (and ETag) moves on."""
    await _check_rates(session, rates)
    await _write_rates(session, zone, rates)
    zone.version += 1
    await session.flush()
    await session.refresh(zone)
    return zone


async def delete_zone(session: AsyncSession, zone: TaxZone) -> None:
    await session.delete(zone)
    await session.flush()


# ---------------------------------------------------------------------------------------------
# rate lookup (cart and checkout)


@dataclass(frozen=True)
class TaxAddress:
    """Where the goods go: the parts of an address that decide the tax."""

    country: str
    region: str | None = None
    postal_code: str | None = None


class TaxProvider(Protocol):
    """Where rates come from. The built-in one reads the zone tables; an external tax service
    (Avalara, TaxJar, ...) would implement the same call. It must answer every class asked for."""

    name: str

    async def rates(
        self, session: Executor, address: TaxAddress, tax_classes: Iterable[str]
    ) -> dict[str, TaxRate]: ...


# A zone applies when it names no region or the address's, and no postcode prefix or one the
# address's postcode starts with (a NULL region or postcode matches only zones without one).
_ZONE_RATES = Statement("""
SELECT z.id, z.code, z.region, z.postcode_prefix, r.tax_class, r.rate_ppm, r.name
FROM tax_zones z JOIN tax_zone_rates r ON r.zone_id = z.id
WHERE z.country = :country AND r.tax_class = ANY(CAST(:classes AS varchar[]))
  AND (z.region IS NULL OR z.region = CAST(:region AS varchar))
  AND (z.postcode_prefix IS NULL OR starts_with(CAST(:postal AS text), z.postcode_prefix))
""")


class TableTaxProvider:
    """Rates from /admin/tax/zones: one index-backed query (the area index leads with country)."""

    name = "table"

    async def rates(
        self, session: Executor, address: TaxAddress, tax_classes: Iterable[str]
    ) -> dict[str, TaxRate]:
        classes = list(dict.fromkeys(tax_classes))
        country = address.country.strip().upper()
        region = normalize_region(country, address.region)
        postal = normalize_postcode(address.postal_code)
        looked_up = [c for c in classes if c not in ZERO_CLASSES]
        if not looked_up:
            return choose_rates([], classes)
        rows = await _ZONE_RATES.fetch(session, country=country, classes=[*looked_up, STANDARD], region=region,
                                       postal=postal)
        return choose_rates([ZoneRate(*row) for row in rows], classes)


PROVIDERS: dict[str, Callable[[], TaxProvider]] = {"table": TableTaxProvider}


def provider_named(name: str) -> TaxProvider:
    """The provider `MERCATO_TAX_PROVIDER` names (settings.tax_provider)."""
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ValueError(f"unknown tax provider {name!r}; known: {', '.join(sorted(PROVIDERS))}") from None


async def rates_for(
    session: Executor,
    *,
    country: str,
    region: str | None,
    postal_code: str | None,
    tax_classes: Iterable[str],
    provider: TaxProvider | None = None,
) -> dict[str, TaxRate]:
    """The rate of each class for goods sent to this address, keyed by class (every class asked
    for is answered). No zone for the address → rate 0 with `zone_code=None` (the shop does not
    collect tax there; the cart checks which countries it sells to). Rules: `tax_rules` module doc."""
    chosen = provider or TableTaxProvider()
    return await chosen.rates(session, TaxAddress(country, region, postal_code), tax_classes)
