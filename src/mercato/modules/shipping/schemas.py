"""Request and response shapes of /admin/shipping/zones and /admin/shipping/methods."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from mercato.modules.shipping.models import ShippingMethod, ShippingMethodRate, ShippingZone, ShippingZoneArea
from mercato.modules.shipping.quotes import ShippingOption
from mercato.modules.shipping.rules import Kind
from mercato.modules.shipping.service import MAX_AREAS, MAX_RATES, MAX_TIERS, AreaData, RateData

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50,
                                        pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Amount = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True, description="Integer minor units")]
Grams = Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]
Days = Annotated[int, Field(ge=0, le=365, strict=True)]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000, strict=True)]
TaxClass = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[a-z0-9_-]+$")]
Carrier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Postcode = Annotated[str, StringConstraints(min_length=1, max_length=20)]


def _upper(value: str) -> str:
    return value.upper()


Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"), AfterValidator(_upper)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]

_AREA_DOC = ("A country; or one region of it (its subdivision code as addresses carry it, 'CA' or 'US-CA'); or "
             "a postcode prefix ('BT'); or a postcode range (postal_from..postal_to, both of one length). "
             "Postcodes are compared in upper case without spaces or dashes.")


class AreaIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": _AREA_DOC})

    country: Country
    region: Region | None = None
    postal_prefix: Postcode | None = None
    postal_from: Postcode | None = None
    postal_to: Postcode | None = None

    def data(self) -> AreaData:
        return AreaData(self.country, self.region, self.postal_prefix, self.postal_from, self.postal_to)


class AreaOut(BaseModel):
    country: str
    region: str | None
    postal_prefix: str | None
    postal_from: str | None
    postal_to: str | None


class ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="Lower-case letters, digits, - and _")
    name: Name
    areas: list[AreaIn] = Field(min_length=1, max_length=MAX_AREAS)
    channel_ids: list[Id] = Field(default_factory=list, max_length=100, description="Empty: every channel")
    priority: Priority = Field(default=0, description="Between zones that match an address equally "
                                                      "specifically, the higher wins")
    is_active: bool = True


class ZoneUpdateIn(BaseModel):
    """Fields left out keep their value; `areas` replaces all areas."""

    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None
    areas: list[AreaIn] | None = Field(default=None, min_length=1, max_length=MAX_AREAS)
    channel_ids: list[Id] | None = Field(default=None, max_length=100)
    priority: Priority | None = None
    is_active: bool | None = None


class ZoneOut(BaseModel):
    id: str
    code: str
    name: str
    areas: list[AreaOut]
    channel_ids: list[str]
    priority: int
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ZoneList(BaseModel):
    items: list[ZoneOut]
    next_cursor: str | None


class WeightTierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_grams: Grams = Field(description="This tier covers carts up to this weight (inclusive)")
    amount: Amount


class PriceTierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_subtotal: Amount = Field(description="This tier covers subtotals from this amount; the first starts at 0")
    amount: Amount


class RateIn(BaseModel):
    """One currency's price. flat: `amount`; free_over: `amount` and `free_over` (the subtotal from
    which shipping costs 0); weight_tiers: `weight_tiers`; price_tiers: `price_tiers`."""

    model_config = ConfigDict(extra="forbid")

    currency: Currency
    amount: Amount | None = None
    free_over: Amount | None = None
    weight_tiers: list[WeightTierIn] = Field(default_factory=list, max_length=MAX_TIERS)
    price_tiers: list[PriceTierIn] = Field(default_factory=list, max_length=MAX_TIERS)

    def data(self) -> RateData:
        return RateData(
            currency=self.currency, amount=self.amount, free_over=self.free_over,
            weight_tiers=tuple((t.max_grams, t.amount) for t in self.weight_tiers),
            price_tiers=tuple((t.min_subtotal, t.amount) for t in self.price_tiers),
        )


class WeightTierOut(BaseModel):
    max_grams: int
    amount: int


class PriceTierOut(BaseModel):
    min_subtotal: int
    amount: int


class RateOut(BaseModel):
    currency: str
    amount: int | None
    free_over: int | None
    weight_tiers: list[WeightTierOut]
    price_tiers: list[PriceTierOut]


class MethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zone_id: Id
    code: Code = Field(description="Unique within the zone")
    name: Name
    kind: Kind
    rates: list[RateIn] = Field(min_length=1, max_length=MAX_RATES, description="One per currency")
    min_days: Days
    max_days: Days
    carrier: Carrier | None = None
    tax_class: TaxClass = "standard"
    warehouse_ids: list[Id] = Field(default_factory=list, max_length=100,
                                    description="Warehouses it ships from; empty: any")
    is_active: bool = True


class MethodUpdateIn(BaseModel):
    """Fields left out keep their value; `rates` replaces all rates; `carrier: null` clears it."""

    model_config = ConfigDict(extra="forbid")

    zone_id: Id | None = None
    code: Code | None = None
    name: Name | None = None
    kind: Kind | None = None
    rates: list[RateIn] | None = Field(default=None, min_length=1, max_length=MAX_RATES)
    min_days: Days | None = None
    max_days: Days | None = None
    carrier: Carrier | None = None
    tax_class: TaxClass | None = None
    warehouse_ids: list[Id] | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class MethodOut(BaseModel):
    id: str
    zone_id: str
    code: str
    name: str
    kind: str
    rates: list[RateOut]
    min_days: int
    max_days: int
    carrier: str | None
    tax_class: str
    warehouse_ids: list[str]
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class MethodList(BaseModel):
    items: list[MethodOut]
    next_cursor: str | None


def zone_out(zone: ShippingZone, areas: list[ShippingZoneArea]) -> ZoneOut:
    return ZoneOut(
        id=str(zone.id), code=zone.code, name=zone.name,
        areas=[AreaOut(country=a.country_code, region=a.region, postal_prefix=a.postal_prefix,
                       postal_from=a.postal_from, postal_to=a.postal_to) for a in areas],
        channel_ids=[str(c) for c in zone.channel_ids], priority=zone.priority, is_active=zone.is_active,
        version=zone.version, created_at=zone.created_at, updated_at=zone.updated_at,
    )


def rate_out(kind: str, rate: ShippingMethodRate) -> RateOut:
    tiers = [(int(bound), int(amount)) for bound, amount in rate.tiers]
    return RateOut(
        currency=rate.currency, amount=rate.amount, free_over=rate.free_over,
        weight_tiers=[WeightTierOut(max_grams=b, amount=a) for b, a in tiers] if kind == "weight_tiers" else [],
        price_tiers=[PriceTierOut(min_subtotal=b, amount=a) for b, a in tiers] if kind == "price_tiers" else [],
    )


def method_out(method: ShippingMethod, rates: list[ShippingMethodRate]) -> MethodOut:
    return MethodOut(
        id=str(method.id), zone_id=str(method.zone_id), code=method.code, name=method.name, kind=method.kind,
        rates=[rate_out(method.kind, r) for r in rates], min_days=method.min_days, max_days=method.max_days,
        carrier=method.carrier, tax_class=method.tax_class, warehouse_ids=[str(w) for w in method.warehouse_ids],
        is_active=method.is_active, version=method.version, created_at=method.created_at,
        updated_at=method.updated_at,
    )


class OptionOut(BaseModel):
    id: str
    code: str
    name: str
    price: int
    currency: str
    min_days: int
    max_days: int
    tax_class: str
    carrier: str | None
    provider: str


def option_out(option: ShippingOption) -> OptionOut:
    return OptionOut(**dataclasses.asdict(option))
