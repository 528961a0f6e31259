from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mercato.modules.inventory.rules import STRATEGIES


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(_Body):
    variant_id: str = Field(max_length=64)
    quantity: int = Field(ge=1, le=100_000)


class Destination(_Body):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class ReservationIn(_Body):
    reference: str = Field(min_length=1, max_length=200, description='What holds the stock, e.g. "cart:<id>"')
    lines: list[LineIn] = Field(min_length=1, max_length=250)
    channel: str | None = Field(default=None, max_length=50,
                                description="Channel code: only warehouses serving it; its TTL by default")
    country: str | None = Field(default=None, min_length=2, max_length=2, description="Destination country")
    ttl_s: int | None = Field(default=None, ge=60, le=86_400, description="Hold time (default: the channel's)")
    strategy: str = Field(default="priority", description=" | ".join(STRATEGIES))
    destination: Destination | None = Field(default=None, description="For the `nearest` strategy")


class ReservationOut(BaseModel):
    id: str
    variant_id: str
    warehouse_id: str
    quantity: int
    expires_at: datetime


class ReservationList(BaseModel):
    reference: str
    items: list[ReservationOut]


class ReferenceIn(_Body):
    reference: str = Field(min_length=1, max_length=200)


class RefreshIn(ReferenceIn):
    ttl_s: int = Field(default=900, ge=60, le=86_400)


class ReleaseIn(ReferenceIn):
    variant_ids: list[str] | None = Field(default=None, max_length=250)


class Count(BaseModel):
    count: int


class AllocateIn(_Body):
    reference: str = Field(min_length=1, max_length=200, description="The reservation's reference")
    order_reference: str = Field(min_length=1, max_length=200, description='e.g. "order:<id>"')


class AllocationOut(BaseModel):
    id: str
    reference: str
    variant_id: str
    warehouse_id: str
    quantity: int
    shipped: int
    lots: list[dict[str, object]]


class AllocationList(BaseModel):
    items: list[AllocationOut]


class ShipmentIn(_Body):
    quantity: int = Field(ge=1, le=1_000_000)
    reference_id: str | None = Field(default=None, max_length=200, description="e.g. the fulfilment id")


class DiscrepancyOut(BaseModel):
    stock_id: str
    what: str
    expected: int
    actual: int


class VerifyOut(BaseModel):
    ok: bool
    discrepancies: list[DiscrepancyOut]
