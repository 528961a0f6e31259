"""Request and response shapes of the admin product API (`/admin/products`, `/admin/variants`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_TAG = Field(min_length=1, max_length=50)


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=50, description="Channel code (web-eu) or id")
    amount: int = Field(ge=0, le=10**15, description="Integer minor units")
    currency: str = Field(min_length=3, max_length=3, description="Must be the channel's currency")
    compare_at_amount: int | None = Field(default=None, ge=0, le=10**15, description="Was-price, ≥ amount")
    valid_from: datetime | None = None
    valid_to: datetime | None = Field(default=None, description="Exclusive end; after valid_from")


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    options: dict[str, str] = Field(default_factory=dict, description="Codes of the product type's variant options")
    gtin: str | None = Field(default=None, pattern=r"^[0-9]{8,14}$")
    weight_grams: int | None = Field(default=None, ge=0, le=10**7)
    length_mm: int | None = Field(default=None, ge=0, le=10**6)
    width_mm: int | None = Field(default=None, ge=0, le=10**6)
    height_mm: int | None = Field(default=None, ge=0, le=10**6)
    tax_class: str = Field(default="standard", min_length=1, max_length=20)
    track_inventory: bool = True
    min_quantity: int = Field(default=1, ge=1, le=10**6)
    max_quantity: int | None = Field(default=None, ge=1, le=10**6)
    position: int | None = Field(default=None, ge=0, le=10**6, description="Default: after the others")
    prices: list[PriceIn] = Field(default_factory=list, max_length=100)


class VariantPatchIn(BaseModel):
    """Only the fields sent change; `null` clears a nullable field."""

    model_config = ConfigDict(extra="forbid")

    sku: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=300)
    options: dict[str, str] | None = None
    gtin: str | None = Field(default=None, pattern=r"^[0-9]{8,14}$")
    weight_grams: int | None = Field(default=None, ge=0, le=10**7)
    length_mm: int | None = Field(default=None, ge=0, le=10**6)
    width_mm: int | None = Field(default=None, ge=0, le=10**6)
    height_mm: int | None = Field(default=None, ge=0, le=10**6)
    tax_class: str | None = Field(default=None, min_length=1, max_length=20)
    track_inventory: bool | None = None
    min_quantity: int | None = Field(default=None, ge=1, le=10**6)
    max_quantity: int | None = Field(default=None, ge=1, le=10**6)
    position: int | None = Field(default=None, ge=0, le=10**6)


class PricesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prices: list[PriceIn] = Field(max_length=100, description="Replaces every price of the variant")


class ProductCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    slug: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
                             description="Generated from the name when absent")
    description: str = Field(default="", max_length=100_000, description="HTML; sanitised")
    brand_id: str | None = None
    category_id: str | None = None
    product_type_id: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    attributes: dict[str, Any] = Field(default_factory=dict)
    seo_title: str | None = Field(default=None, max_length=300)
    seo_description: str | None = Field(default=None, max_length=500)
    publish_at: datetime | None = None
    unpublish_at: datetime | None = None
    variants: list[VariantIn] = Field(default_factory=list, max_length=200)


class ProductPatchIn(BaseModel):
    """Only the fields sent change; `null` clears a nullable field. `attributes` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    slug: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    description: str | None = Field(default=None, max_length=100_000)
    brand_id: str | None = None
    category_id: str | None = None
    product_type_id: str | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    attributes: dict[str, Any] | None = None
    seo_title: str | None = Field(default=None, max_length=300)
    seo_description: str | None = Field(default=None, max_length=500)
    publish_at: datetime | None = None
    unpublish_at: datetime | None = None


class WorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)


class RevertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)


class PriceOut(BaseModel):
    id: str
    channel_id: str
    channel: str
    amount: int
    currency: str
    compare_at_amount: int | None
    valid_from: datetime | None
    valid_to: datetime | None


class VariantAdminOut(BaseModel):
    id: str
    product_id: str
    sku: str
    name: str
    options: dict[str, str]
    gtin: str | None
    weight_grams: int | None
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None
    tax_class: str
    track_inventory: bool
    min_quantity: int
    max_quantity: int | None
    position: int
    prices: list[PriceOut]


class MediaSummary(BaseModel):
    count: int
    thumbnail: str | None


class ProductAdminOut(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    status: str
    brand_id: str | None
    category_id: str | None
    product_type_id: str | None
    tags: list[str]
    attributes: dict[str, Any]
    seo_title: str | None
    seo_description: str | None
    publish_at: datetime | None
    unpublish_at: datetime | None
    published_at: datetime | None
    review_comment: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    variants: list[VariantAdminOut]
    media: MediaSummary


class ProductSummaryOut(BaseModel):
    id: str
    slug: str
    name: str
    status: str
    brand_id: str | None
    category_id: str | None
    product_type_id: str | None
    version: int
    variant_count: int
    updated_at: datetime


class ProductAdminList(BaseModel):
    items: list[ProductSummaryOut]
    next_cursor: str | None


class RevisionOut(BaseModel):
    version: int
    action: str
    actor: str
    comment: str | None
    created_at: datetime
    changes: dict[str, Any]


class RevisionList(BaseModel):
    items: list[RevisionOut]
    next_cursor: str | None


class RevisionDetail(RevisionOut):
    snapshot: dict[str, Any]


class RevisionDiff(BaseModel):
    version: int
    against: int
    changes: dict[str, Any] = Field(description='{"path": {"from": value in `against`, "to": value in `version`}}')
