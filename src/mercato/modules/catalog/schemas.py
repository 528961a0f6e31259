"""Response shapes of the storefront catalogue (`/store/products`, `/store/categories`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MoneyOut(BaseModel):
    amount: int = Field(description="Integer minor units (cents for EUR, yen for JPY)")
    currency: str = Field(description="ISO 4217 code")


class ProductListItem(BaseModel):
    id: str
    slug: str
    name: str
    price: MoneyOut = Field(description="Lowest current variant price in the channel")
    in_stock: bool
    thumbnail: str | None


class ProductList(BaseModel):
    items: list[ProductListItem]
    next_cursor: str | None


class Ref(BaseModel):
    id: str
    slug: str
    name: str


class RenditionOut(BaseModel):
    width: int
    format: str = Field(description="webp or jpeg")
    url: str


class ImageOut(BaseModel):
    url: str = Field(description="The original (metadata stripped)")
    alt: str
    width: int | None
    height: int | None
    renditions: list[RenditionOut] = Field(description="Resized copies for srcset; empty until generated")


class VariantOut(BaseModel):
    id: str
    sku: str
    name: str
    price: MoneyOut
    compare_at_price: MoneyOut | None
    in_stock: bool
    options: dict[str, str]


class ProductDetail(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    brand: Ref | None
    category: Ref | None
    attributes: dict[str, Any]
    images: list[ImageOut]
    price: MoneyOut = Field(description="Lowest current variant price in the channel")
    in_stock: bool
    rating_avg: int = Field(description="Average approved rating in hundredths of a star (435 = 4.35)")
    rating_count: int = Field(description="Number of approved reviews")
    variants: list[VariantOut] = Field(description="The variants priced in the channel, in display order")


class CategoryNode(BaseModel):
    id: str
    slug: str
    name: str
    product_count: int = Field(description="Products listed in the channel in this category or below it")
    children: list[CategoryNode]


class CategoryTree(BaseModel):
    items: list[CategoryNode] = Field(description="Root categories, each with its subtree")


class CategoryCount(BaseModel):
    id: str
    slug: str
    name: str
    product_count: int


class CategoryDetail(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    product_count: int
    ancestors: list[Ref] = Field(description="From the root down to the parent (a breadcrumb)")
    children: list[CategoryCount]
