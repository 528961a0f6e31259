"""Request and response shapes of /admin/tax/classes and /admin/tax/zones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.modules.pricing.tax_models import TaxClass, TaxZone, TaxZoneRate
from mercato.modules.pricing.tax_rules import MAX_RATE_PPM, TaxRate, percent
from mercato.modules.pricing.tax_service import MAX_RATES

ClassCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20,
                                             pattern=r"^[a-z0-9][a-z0-9_-]*$")]
ZoneCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50,
                                            pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RateName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
# Checked against ISO 3166 by the service (422 `tax.invalid`); the schema only bounds the size.
Country = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
Prefix = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
RatePpm = Annotated[int, Field(ge=0, le=MAX_RATE_PPM, strict=True,
                               description="Parts per million: 19 % is 190000, 7.25 % is 72500")]


class ClassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ClassCode = Field(description="What variants and shipping methods name (`tax_class`); never changes")
    name: Name
    description: Description | None = None


class ClassUpdateIn(BaseModel):
    """Fields left out keep their value; `description: null` clears it. The code cannot change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None


class ClassOut(BaseModel):
    code: str
    name: str
    description: str | None
    built_in: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ClassList(BaseModel):
    items: list[ClassOut]
    next_cursor: str | None


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tax_class: ClassCode
    rate_ppm: RatePpm
    name: RateName = Field(description="Shown on invoices, e.g. 'DE VAT 19%'")


class RatesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: list[RateIn] = Field(max_length=MAX_RATES)


class RateOut(BaseModel):
    tax_class: str
    rate_ppm: int
    percent: str
    name: str


class ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ZoneCode
    name: Name
    country: Country = Field(description="ISO 3166-1 alpha-2")
    region: Region | None = Field(default=None, description="ISO 3166-2 subdivision ('NY' or 'US-NY'); null: all")
    postcode_prefix: Prefix | None = Field(default=None, description="Postcodes starting with this; null: all")
    rates: list[RateIn] = Field(default_factory=list, max_length=MAX_RATES)


class ZoneUpdateIn(BaseModel):
    """Fields left out keep their value; `null` clears region or postcode_prefix. Rates: PUT .../rates."""

    model_config = ConfigDict(extra="forbid")

    code: ZoneCode | None = None
    name: Name | None = None
    country: Country | None = None
    region: Region | None = None
    postcode_prefix: Prefix | None = None


class ZoneOut(BaseModel):
    id: str
    code: str
    name: str
    country: str
    region: str | None
    postcode_prefix: str | None
    rates: list[RateOut]
    version: int
    created_at: datetime
    updated_at: datetime


class ZoneList(BaseModel):
    items: list[ZoneOut]
    next_cursor: str | None


class ResolvedRateOut(BaseModel):
    tax_class: str
    rate_ppm: int
    percent: str
    name: str
    zone_code: str | None
    source: str


class LookupOut(BaseModel):
    country: str
    region: str | None
    postal_code: str | None
    provider: str
    rates: list[ResolvedRateOut]


def class_out(tax_class: TaxClass, *, built_in: bool) -> ClassOut:
    return ClassOut(code=tax_class.code, name=tax_class.name, description=tax_class.description, built_in=built_in,
                    version=tax_class.version, created_at=tax_class.created_at, updated_at=tax_class.updated_at)


def rate_out(rate: TaxZoneRate) -> RateOut:
    return RateOut(tax_class=rate.tax_class, rate_ppm=rate.rate_ppm, percent=percent(rate.rate_ppm), name=rate.name)


def zone_out(zone: TaxZone, rates: list[TaxZoneRate]) -> ZoneOut:
    return ZoneOut(id=str(zone.id), code=zone.code, name=zone.name, country=zone.country, region=zone.region,
                   postcode_prefix=zone.postcode_prefix, rates=[rate_out(r) for r in rates], version=zone.version,
                   created_at=zone.created_at, updated_at=zone.updated_at)


def resolved_out(rate: TaxRate) -> ResolvedRateOut:
    return ResolvedRateOut(tax_class=rate.tax_class, rate_ppm=rate.rate_ppm, percent=percent(rate.rate_ppm),
                           name=rate.name, zone_code=rate.zone_code, source=rate.source)
