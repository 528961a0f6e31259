"""Admin request and response bodies for attributes, product types, categories and brands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AttributeType = Literal["text", "rich_text", "number", "boolean", "date", "select", "multiselect", "swatch",
                        "reference"]
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,49}$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- attributes


class AttributeOption(Body):
    value: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=200)
    hex: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$", description="Swatch colour, #rrggbb")


class AttributeCreateIn(Body):
    code: str = Field(pattern=CODE_PATTERN, description="Stable key of the value in product attributes")
    name: str = Field(min_length=1, max_length=200)
    type: AttributeType
    unit: str | None = Field(default=None, min_length=1, max_length=20, description="number attributes only")
    options: list[AttributeOption] = Field(default_factory=list, max_length=500,
                                           description="select, multiselect and swatch attributes only")
    filterable: bool = False


class AttributeUpdateIn(Body):
    """Only the fields sent change. `type` cannot change once a product type uses the attribute."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    type: AttributeType | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=20)
    options: list[AttributeOption] | None = Field(default=None, max_length=500)
    filterable: bool | None = None


class AttributeOptionOut(BaseModel):
    value: str
    label: str
    hex: str | None = None


class AttributeOut(BaseModel):
    id: str
    code: str
    name: str
    type: str
    unit: str | None
    options: list[AttributeOptionOut]
    filterable: bool
    created_at: datetime
    updated_at: datetime


class AttributeList(BaseModel):
    items: list[AttributeOut]
    next_cursor: str | None


# ---- product types


class ProductTypeAttribute(Body):
    code: str = Field(pattern=CODE_PATTERN)
    required: bool = False


class ProductTypeCreateIn(Body):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200, pattern=SLUG_PATTERN)
    attributes: list[ProductTypeAttribute] = Field(default_factory=list, max_length=200)
    variant_options: list[str] = Field(default_factory=list, max_length=10,
                                       description="Codes of select/swatch attributes the variants vary by")


class ProductTypeUpdateIn(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, min_length=1, max_length=200, pattern=SLUG_PATTERN)
    attributes: list[ProductTypeAttribute] | None = Field(default=None, max_length=200)
    variant_options: list[str] | None = Field(default=None, max_length=10)


class ProductTypeAttributeOut(BaseModel):
    code: str
    required: bool


class ProductTypeOut(BaseModel):
    id: str
    name: str
    slug: str
    attributes: list[ProductTypeAttributeOut]
    variant_options: list[str]
    created_at: datetime
    updated_at: datetime


class ProductTypeList(BaseModel):
    items: list[ProductTypeOut]
    next_cursor: str | None


# ---- categories


class CategoryCreateIn(Body):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200, pattern=SLUG_PATTERN)
    parent_id: str | None = Field(default=None, max_length=64, description="None: a root category")
    description: str = Field(default="", max_length=10_000)
    position: int = Field(default=0, ge=0, le=1_000_000)
    is_active: bool = True


class CategoryUpdateIn(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, min_length=1, max_length=200, pattern=SLUG_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    is_active: bool | None = None


class CategoryMoveIn(Body):
    parent_id: str | None = Field(max_length=64, description="New parent; null makes it a root")
    position: int | None = Field(default=None, ge=0, le=1_000_000)


class CategoryOut(BaseModel):
    id: str
    parent_id: str | None
    name: str
    slug: str
    path: str
    depth: int
    position: int
    description: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class CategoryList(BaseModel):
    items: list[CategoryOut]
    next_cursor: str | None


class CategoryAdminNode(BaseModel):
    id: str
    name: str
    slug: str
    position: int
    is_active: bool
    children: list[CategoryAdminNode]


class CategoryAdminTree(BaseModel):
    items: list[CategoryAdminNode]


# ---- brands


class BrandCreateIn(Body):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200, pattern=SLUG_PATTERN)


class BrandUpdateIn(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, min_length=1, max_length=200, pattern=SLUG_PATTERN)


class BrandOut(BaseModel):
    id: str
    name: str
    slug: str
    created_at: datetime
    updated_at: datetime


class BrandList(BaseModel):
    items: list[BrandOut]
    next_cursor: str | None
