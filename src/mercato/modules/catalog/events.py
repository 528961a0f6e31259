"""Events of the product lifecycle, written to the outbox in the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ProductCreated:
    name: ClassVar[str] = "product.created"
    product_id: str
    slug: str
    actor: str


@dataclass(frozen=True)
class ProductUpdated:
    """Any change of fields, variants, prices, a revert or a workflow step without its own event."""

    name: ClassVar[str] = "product.updated"
    product_id: str
    version: int
    action: str
    actor: str


@dataclass(frozen=True)
class ProductSubmitted:
    name: ClassVar[str] = "product.submitted"
    product_id: str
    version: int
    actor: str


@dataclass(frozen=True)
class ProductPublished:
    name: ClassVar[str] = "product.published"
    product_id: str
    version: int
    actor: str


@dataclass(frozen=True)
class ProductUnpublished:
    name: ClassVar[str] = "product.unpublished"
    product_id: str
    version: int
    actor: str


@dataclass(frozen=True)
class ProductArchived:
    name: ClassVar[str] = "product.archived"
    product_id: str
    version: int
    actor: str


@dataclass(frozen=True)
class ProductDeleted:
    name: ClassVar[str] = "product.deleted"
    product_id: str
    actor: str
