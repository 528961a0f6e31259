"""Request and response shapes of /admin/warehouses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.modules.inventory.models import Warehouse

Code = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Country = Annotated[str, StringConstraints(min_length=2, max_length=2)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Priority = Annotated[int, Field(ge=0, le=1_000_000, strict=True, description="Lower ships first")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(_Body):
    line1: Line
    line2: Line | None = None
    city: Line
    region: Line | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    country_code: Country = Field(description="ISO 3166-1 alpha-2; also the warehouse's country")


class WarehouseIn(_Body):
    code: Code = Field(description="Lower-case letters, digits and dashes; unique")
    name: Name
    address: AddressIn
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    priority: Priority = 100
    is_active: bool = True
    click_and_collect: bool = False
    channel_ids: list[Id] = Field(default_factory=list, max_length=100, description="Channels it sells stock in")
    ship_countries: list[Country] = Field(default_factory=list, max_length=300,
                                          description="ISO alpha-2; empty: every country of its channels")


class WarehouseUpdateIn(_Body):
    """Fields left out keep their value; `null` clears latitude/longitude. An address replaces the
    whole address."""

    code: Code | None = None
    name: Name | None = None
    address: AddressIn | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    priority: Priority | None = None
    is_active: bool | None = None
    click_and_collect: bool | None = None
    channel_ids: list[Id] | None = Field(default=None, max_length=100)
    ship_countries: list[Country] | None = Field(default=None, max_length=300)


class AddressOut(BaseModel):
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country_code: str


class WarehouseOut(BaseModel):
    id: str
    code: str
    name: str
    address: AddressOut
    country_code: str
    latitude: float | None
    longitude: float | None
    priority: int
    is_active: bool
    click_and_collect: bool
    channel_ids: list[str]
    ship_countries: list[str]
    version: int
    created_at: datetime
    updated_at: datetime


class WarehouseList(BaseModel):
    items: list[WarehouseOut]
    next_cursor: str | None


def _address_out(w: Warehouse) -> AddressOut:
    # Rows written by seeds or scripts may hold a partial address: shown as far as it goes.
    raw = w.address or {}
    return AddressOut(line1=str(raw.get("line1", "")), line2=raw.get("line2"), city=str(raw.get("city", "")),
                      region=raw.get("region"), postal_code=str(raw.get("postal_code", "")),
                      country_code=str(raw.get("country_code", w.country_code)))


def warehouse_out(w: Warehouse) -> WarehouseOut:
    return WarehouseOut(
        id=str(w.id), code=w.code, name=w.name, address=_address_out(w),
        country_code=w.country_code, latitude=w.latitude, longitude=w.longitude, priority=w.priority,
        is_active=w.is_active, click_and_collect=w.click_and_collect, channel_ids=[str(c) for c in w.channel_ids],
        ship_countries=list(w.ship_countries), version=w.version, created_at=w.created_at, updated_at=w.updated_at,
    )
