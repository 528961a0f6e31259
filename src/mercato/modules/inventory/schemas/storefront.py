"""Storefront availability (`GET /store/availability`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

MAX_VARIANTS = 100
QUANTITY_CAP = 99


class CollectionPoint(BaseModel):
    warehouse_id: str
    name: str
    city: str | None


class VariantAvailability(BaseModel):
    variant_id: str
    in_stock: bool = Field(description="Can be bought now in the channel (and shipped to the country, when given): "
                                       "from stock, on backorder or on preorder; always true when the variant "
                                       "does not track inventory (the product pages' `in_stock` is the same rule)")
    available_quantity: int | None = Field(
        description=f"Units on the shelf for this channel and country, capped at {QUANTITY_CAP}; "
                    "null when the variant does not track inventory")
    backorder: bool = Field(description="None on the shelf, but it can be ordered now and ships when restocked")
    preorder_release_at: datetime | None = Field(description="On preorder until then (null: not a preorder)")
    click_and_collect: list[CollectionPoint] = Field(
        description="Click-and-collect warehouses with units on the shelf, in priority order")


class AvailabilityList(BaseModel):
    items: list[VariantAvailability] = Field(description="In the order asked, each variant once")
    unknown: list[str] = Field(description="Ids asked for that name no variant for sale in the channel")
