"""pricing tax service against the database: which zone's rate an address gets (postcode prefix >
region > country), the lookup's query count, the provider setting, and the demo seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules import pricing
from mercato.modules.pricing import tax_service as service
from mercato.modules.pricing.tax_models import TaxClass, TaxZone, TaxZoneRate
from mercato.modules.pricing.tax_rules import ZoneRate, choose_rates, zone_matches
from mercato.modules.pricing.tax_seed import VAT_COUNTRIES, demo_zones, seed_demo
from mercato.modules.pricing.tax_service import RateData, ZoneData


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def zone(session: AsyncSession, code: str, country: str, region: str | None = None, prefix: str | None = None,
               **rates: int) -> None:
    await service.create_zone(session, ZoneData(code, code, country, region, prefix),
                              [RateData(cls, rate, f"{code} {cls}") for cls, rate in rates.items()])


@pytest.fixture
async def us_zones(session: AsyncSession) -> None:
    await zone(session, "us", "US", standard=0)
    await zone(session, "us-ny", "US", "NY", standard=40_000)
    await zone(session, "nyc", "US", "NY", "100", standard=88_750)
    await zone(session, "nyc-10001", "US", "NY", "10001", standard=90_000)
    await zone(session, "zip-941", "US", None, "941", standard=86_250, reduced=10_000)


async def rate(session: AsyncSession, country: str, region: str | None, postal: str | None,
               tax_class: str = "standard") -> tuple[int, str | None]:
    found = (await pricing.rates_for(session, country=country, region=region, postal_code=postal,
                                     tax_classes=[tax_class]))[tax_class]
    return found.rate_ppm, found.zone_code


@pytest.mark.usefixtures("us_zones")
async def test_most_specific_zone_wins(session: AsyncSession) -> None:
    assert await rate(session, "US", "NY", "10001-2345") == (90_000, "nyc-10001")  # longer prefix
    assert await rate(session, "US", "NY", "10002") == (88_750, "nyc")  # prefix beats region
    assert await rate(session, "US", "NY", "14201") == (40_000, "us-ny")  # region beats country
    assert await rate(session, "US", "NY", None) == (40_000, "us-ny")
    assert await rate(session, "US", "TX", "75001") == (0, "us")  # country only
    assert await rate(session, "US", None, None) == (0, "us")
    # a prefix zone without a region applies whatever the region; inputs are normalised
    assert await rate(session, "us", "us-ca", " 941 05") == (86_250, "zip-941")
    assert await rate(session, "US", "CA", "94105", "reduced") == (10_000, "zip-941")
    # a region zone does not apply to another region's postcodes
    assert await rate(session, "US", "NJ", "10001") == (0, "us")


@pytest.mark.usefixtures("us_zones")
async def test_the_query_agrees_with_the_pure_matching_rule(session: AsyncSession) -> None:
    """The provider's SQL filter and `tax_rules.zone_matches` + `choose_rates` give the same answer."""
    all_rows = (await session.execute(
        select(TaxZone.country, TaxZone.id, TaxZone.code, TaxZone.region, TaxZone.postcode_prefix,
               TaxZoneRate.tax_class, TaxZoneRate.rate_ppm, TaxZoneRate.name).join(TaxZoneRate)
    )).all()
    for country in ("US", "CA"):
        for region in (None, "NY", "CA", "NJ"):
            for postal in (None, "10001", "100019999", "10002", "94105", "9", "1"):
                expected = choose_rates(
                    [ZoneRate(*r[1:]) for r in all_rows if zone_matches(r[0], r[3], r[4], country, region, postal)],
                    ["standard", "reduced"])
                got = await pricing.rates_for(session, country=country, region=region, postal_code=postal,
                                              tax_classes=["standard", "reduced"])
                assert got == expected, (country, region, postal)


@pytest.mark.usefixtures("us_zones")
async def test_unknown_place_is_rate_zero_without_zone(session: AsyncSession) -> None:
    rates = await pricing.rates_for(session, country="JP", region=None, postal_code="100-0001",
                                    tax_classes=["standard", "reduced", "exempt"])
    assert {(r.tax_class, r.rate_ppm, r.zone_code, r.source) for r in rates.values()} == {
        ("standard", 0, None, "no_zone"), ("reduced", 0, None, "no_zone"), ("exempt", 0, None, "fixed_zero")}


@pytest.mark.usefixtures("us_zones")
async def test_classes_fall_back_along_the_chain(session: AsyncSession) -> None:
    await zone(session, "de", "DE", standard=190_000, reduced=70_000)
    await zone(session, "de-27498", "DE", None, "27498", standard=0)  # Heligoland: outside the VAT area
    rates = await pricing.rates_for(session, country="DE", region=None, postal_code="27498",
                                    tax_classes=["standard", "reduced", "super_reduced", "zero"])
    assert [(r.tax_class, r.rate_ppm, r.zone_code, r.source) for r in rates.values()] == [
        ("standard", 0, "de-27498", "zone"), ("reduced", 70_000, "de", "zone"),
        ("super_reduced", 0, "de-27498", "standard_fallback"), ("zero", 0, None, "fixed_zero")]


@pytest.mark.usefixtures("us_zones")
async def test_lookup_is_one_query(session: AsyncSession, assert_max_queries: Callable[[int], Any]) -> None:
    classes = ["standard", "reduced", "super_reduced", "zero", "exempt", "custom"]
    with assert_max_queries(1):
        rates = await pricing.rates_for(session, country="US", region="NY", postal_code="10001", tax_classes=classes)
    assert list(rates) == classes
    with assert_max_queries(0):  # only fixed classes: nothing to read
        await pricing.rates_for(session, country="US", region="NY", postal_code=None, tax_classes=["zero"])


async def test_compute_with_looked_up_rates(session: AsyncSession) -> None:
    await seed_demo(session)
    rates = await pricing.rates_for(session, country="FR", region=None, postal_code="75001",
                                    tax_classes=["standard", "reduced"])
    result = pricing.compute([pricing.TaxLine("shirt", 2400), pricing.TaxLine("book", 1055, "reduced", 2),
                              pricing.shipping_line(590)], rates, prices_include_tax=True)
    assert [(t.key, t.net, t.tax, t.rate_name) for t in result.lines] == [
        ("shirt", 2000, 400, "FR VAT 20%"), ("book", 1000, 55, "FR VAT 5.5%"), ("shipping", 492, 98, "FR VAT 20%")]
    assert (result.gross, result.tax) == (4045, 553)
    ny = await pricing.rates_for(session, country="US", region="NY", postal_code="10001", tax_classes=["standard"])
    us = pricing.compute([("mug", 1000, "standard"), pricing.shipping_line(500)], ny, prices_include_tax=False)
    assert (us.net, us.tax, us.gross) == (1500, 60, 1560)


def test_provider_setting() -> None:
    assert Settings().tax_provider == "table"
    assert isinstance(service.provider_named("table"), pricing.TableTaxProvider)
    with pytest.raises(ValueError, match="unknown tax provider 'avalara'"):
        service.provider_named("avalara")


async def test_demo_seed_has_real_rates_and_is_idempotent(session: AsyncSession) -> None:
    added = await seed_demo(session)
    zones = demo_zones()
    rates_count = sum(len(r) for _, r in zones)
    classes_before = 5  # the migration's classes: the seed adds none of them again
    assert added == len(zones) + rates_count
    assert await count(session, TaxClass) == classes_before
    assert await count(session, TaxZone) == len(zones)
    assert await count(session, TaxZoneRate) == rates_count

    expected = {"DE": (190_000, 70_000), "FR": (200_000, 55_000), "NL": (210_000, 90_000), "BE": (210_000, 60_000),
                "AT": (200_000, 100_000), "IT": (220_000, 50_000), "ES": (210_000, 100_000), "GB": (200_000, 50_000)}
    for country in VAT_COUNTRIES:
        rates = await pricing.rates_for(session, country=country, region=None, postal_code=None,
                                        tax_classes=["standard", "reduced", "zero"])
        assert (rates["standard"].rate_ppm, rates["reduced"].rate_ppm) == expected[country], country
        assert rates["zero"].rate_ppm == 0
        assert rates["standard"].zone_code == f"vat-{country.lower()}"
    assert await rate(session, "US", "NY", "10001") == (40_000, "us-ny")
    assert await rate(session, "US", "CA", "94105") == (72_500, "us-ca")
    assert await rate(session, "US", "OR", "97201") == (0, None)

    # a rerun adds nothing and keeps what an administrator changed
    await session.execute(update(TaxZoneRate).where(TaxZoneRate.name == "DE VAT 19%").values(rate_ppm=160_000))
    assert await seed_demo(session) == 0
    assert await rate(session, "DE", None, None) == (160_000, "vat-de")
    assert await count(session, TaxZoneRate) == rates_count
    # what is missing comes back: a deleted class, and the rates that went with it
    await session.execute(delete(TaxClass).where(TaxClass.code == "super_reduced"))
    super_reduced = sum(1 for _, r in zones if "super_reduced" in r)
    assert super_reduced == 4  # FR, AT, IT, ES
    assert await seed_demo(session) == 1 + super_reduced
    assert await count(session, TaxZoneRate) == rates_count
