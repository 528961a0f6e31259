"""Request and response bodies of collections (admin and storefront)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mercato.modules.catalog.taxonomy_schemas import SLUG_PATTERN

_RULES_DOC = (
    'kind "rule": {"match": "all"|"any", "conditions": [{"field": "brand"|"category"|"tag"|"price"|'
    '"attribute.<code>", "op": "eq"|"in"|"gte"|"lte", "value": ..., "currency"? (price)}]}'
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionCreateIn(Body):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=200, pattern=SLUG_PATTERN)
    kind: Literal["manual", "rule"] = "manual"
    description: str = Field(default="", max_length=10_000)
    rules: dict[str, Any] | None = Field(default=None, description=_RULES_DOC)
    is_published: bool = False
    seo_title: str | None = Field(default=None, max_length=300)
    seo_description: str | None = Field(default=None, max_length=500)


class CollectionUpdateIn(Body):
    """Only the fields sent change; the kind is fixed. New rules re-compute the membership at once."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, min_length=1, max_length=200, pattern=SLUG_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    rules: dict[str, Any] | None = Field(default=None, description=_RULES_DOC)
    is_published: bool | None = None
    seo_title: str | None = Field(default=None, max_length=300)
    seo_description: str | None = Field(default=None, max_length=500)


class CollectionOut(BaseModel):
    id: str
    name: str
    slug: str
    kind: str
    description: str
    rules: dict[str, Any]
    is_published: bool
    seo_title: str | None
    seo_description: str | None
    version: int


class CollectionList(BaseModel):
    items: list[CollectionOut]
    next_cursor: str | None


class ProductIdsIn(Body):
    product_ids: list[str] = Field(min_length=1, max_length=500)


class ProductOrderIn(Body):
    product_ids: list[str] = Field(max_length=10_000, description="Every member, once, in the new order")


class AddedOut(BaseModel):
    added: int


class MemberOut(BaseModel):
    product_id: str
    slug: str
    name: str
    status: str
    position: int


class MemberList(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None


class StoreCollectionOut(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    seo_title: str | None
    seo_description: str | None


class StoreCollectionList(BaseModel):
    items: list[StoreCollectionOut]
    next_cursor: str | None
