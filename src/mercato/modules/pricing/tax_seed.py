"""Demo tax data: VAT for the European demo countries from the `eu-vat-rates-data` package
(decision 0011), and a few US state sales taxes.

VAT (DE FR NL BE AT IT ES GB), one zone per country:
  * `standard`: the package's standard rate;
  * `reduced`: the lowest of its reduced rates that is at least 5 %: the EU VAT directive
    (2006/112/EC, art. 99) puts reduced rates at 5 % or more, so lower ones in the list are
    regional or special derogations (France's 0.9 % and 1.05 % for Corsica and overseas);
  * `super_reduced`: the package's super-reduced rate, where the country has one;
  * `zero` and `exempt` need no rows: the tax rules fix them at 0.

US sales tax (prices exclusive in the `web-us` channel): the statewide base rate of a few states,
one zone per state (region = the state's ISO 3166-2 code). Local (county and city) rates come on
top in reality and are left out of the demo. Source: the states' tax departments, as summarised by
the Tax Foundation, "State and Local Sales Tax Rates, 2025": NY 4 %, CA 7.25 %, TX 6.25 %, WA 6.5 %,
NJ 6.625 %. A US address in another state has no zone: no tax (tax_rules, rule 4).

Idempotent: rows are inserted with ON CONFLICT DO NOTHING, so a rerun adds nothing and never
overwrites a rate an administrator changed.
"""

from __future__ import annotations

from decimal import Decimal

import eu_vat_rates_data
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.pricing.tax_models import TaxClass, TaxZone, TaxZoneRate
from mercato.modules.pricing.tax_rules import percent

VAT_COUNTRIES = ("DE", "FR", "NL", "BE", "AT", "IT", "ES", "GB")
REDUCED_FLOOR = Decimal(5)

US_STATES: tuple[tuple[str, str, int], ...] = (
    ("NY", "New York", 40_000),
    ("CA", "California", 72_500),
    ("TX", "Texas", 62_500),
    ("WA", "Washington", 65_000),
    ("NJ", "New Jersey", 66_250),
)

CLASSES = (
    ("standard", "Standard rate"),
    ("reduced", "Reduced rate"),
    ("super_reduced", "Super-reduced rate"),
    ("zero", "Zero rate"),
    ("exempt", "Exempt"),
)


def ppm(rate_percent: float | Decimal) -> int:
    """A percentage as the package gives it (19.0, 5.5) in parts per million, exactly."""
    value = Decimal(str(rate_percent)) * 10_000
    if value != value.to_integral_value():
        raise ValueError(f"{rate_percent} % is not a whole number of parts per million")
    return int(value)


def vat_rates(country: str) -> tuple[str, dict[str, int]]:
    """The country's English name and the demo's rate per class, from the data package."""
    data = eu_vat_rates_data.get_rate(country)
    if data is None:
        raise LookupError(f"eu-vat-rates-data has no rates for {country}")
    rates = {"standard": ppm(data["standard"])}
    reduced = sorted(Decimal(str(r)) for r in data["reduced"])
    at_least_floor = [r for r in reduced if r >= REDUCED_FLOOR]
    if at_least_floor:
        rates["reduced"] = ppm(at_least_floor[0])
    if data["super_reduced"] is not None:
        rates["super_reduced"] = ppm(data["super_reduced"])
    return data["country"], rates


Zone = tuple[dict[str, str | None], dict[str, tuple[int, str]]]


def demo_zones() -> list[Zone]:
    """(zone fields, {class: (rate_ppm, rate name)}) of every demo zone."""
    zones: list[Zone] = []
    for country in VAT_COUNTRIES:
        country_name, rates = vat_rates(country)
        zones.append((
            {"code": f"vat-{country.lower()}", "name": f"{country_name} VAT", "country": country, "region": None},
            {cls: (rate, f"{country} VAT {percent(rate)}") for cls, rate in rates.items()},
        ))
    for state, state_name, rate in US_STATES:
        zones.append((
            {"code": f"us-{state.lower()}", "name": f"{state_name} sales tax", "country": "US", "region": state},
            {"standard": (rate, f"US-{state} sales tax {percent(rate)}")},
        ))
    return zones


async def seed_demo(session: AsyncSession) -> int:
    """Insert the demo's tax classes, zones and rates that are missing; returns the rows added."""
    added = len((await session.execute(
        insert(TaxClass).values([{"code": code, "name": name, "version": 1} for code, name in CLASSES])
        .on_conflict_do_nothing(index_elements=["code"]).returning(TaxClass.code)
    )).all())
    zones = demo_zones()
    added += len((await session.execute(
        insert(TaxZone).values([{**fields, "postcode_prefix": None, "version": 1} for fields, _ in zones])
        .on_conflict_do_nothing().returning(TaxZone.id)
    )).all())
    ids = {code: zone_id for code, zone_id in (await session.execute(
        select(TaxZone.code, TaxZone.id).where(TaxZone.code.in_([f["code"] for f, _ in zones]))
    )).all()}
    rows = [{"zone_id": ids[fields["code"]], "tax_class": cls, "rate_ppm": rate, "name": name}
            for fields, rates in zones if fields["code"] in ids for cls, (rate, name) in rates.items()]
    added += len((await session.execute(
        insert(TaxZoneRate).values(rows).on_conflict_do_nothing().returning(TaxZoneRate.zone_id)
    )).all())
    await session.flush()
    return added
