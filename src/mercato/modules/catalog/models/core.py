"""Catalogue core tables: categories, brands, product types, products, variants, prices per channel,
and the per-channel listing read model that storefront lists are served from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id

PRODUCT_STATUSES = ("draft", "in_review", "published", "archived")


class Category(TimestampMixin, Base):
    """A node of the category tree. `path` is the materialised path of ids ("<root>/<child>/..."),
    so a subtree is one prefix scan and moving it is one UPDATE of the paths under it."""

    __tablename__ = "categories"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    slug: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    depth: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)

    __table_args__ = (
        Index("ix_categories_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_categories_parent_id", "parent_id", "position"),
    )


class Brand(TimestampMixin, Base):
    __tablename__ = "brands"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    slug: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)


class ProductType(TimestampMixin, Base):
    """Defines the attributes a product of this type carries and the options its variants vary by."""

    __tablename__ = "product_types"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    slug: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    # [{"code": "material", "required": true}, ...]: codes of `attributes` rows, in display order.
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'"))
    # Codes of the select/swatch attributes variants vary by (size, colour).
    variant_options: Mapped[list[str]] = mapped_column(ARRAY(String(50)), nullable=False, default=list)


class Product(TimestampMixin, Base):
    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="draft")
    product_type_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("product_types.id", ondelete="RESTRICT"))
    brand_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"))
    category_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), nullable=False, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    seo_title: Mapped[str | None] = mapped_column(String(300))
    seo_description: Mapped[str | None] = mapped_column(String(500))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rating_avg: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # hundredths of a star
    rating_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    popularity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Visibility window of a published product; the scheduler re-lists products as they cross it.
    publish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unpublish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last reviewer's comment (a rejection says why); the whole trail is in product_revisions.
    review_comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"status IN {PRODUCT_STATUSES}", name="status"),
        Index("ix_products_category_id", "category_id"),
        Index("ix_products_brand_id", "brand_id"),
        Index("ix_products_status_updated", "status", "updated_at"),
        Index("ix_products_publish_at", "publish_at", postgresql_where=text("publish_at IS NOT NULL")),
        Index("ix_products_unpublish_at", "unpublish_at", postgresql_where=text("unpublish_at IS NOT NULL")),
    )


class Variant(TimestampMixin, Base):
    __tablename__ = "variants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    sku: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    options: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    gtin: Mapped[str | None] = mapped_column(String(14))
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    length_mm: Mapped[int | None] = mapped_column(Integer)
    width_mm: Mapped[int | None] = mapped_column(Integer)
    height_mm: Mapped[int | None] = mapped_column(Integer)
    tax_class: Mapped[str] = mapped_column(String(20), nullable=False, default="standard")
    track_inventory: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    min_quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    max_quantity: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_variants_product_id", "product_id", "position"),)


class VariantPrice(Base):
    """A variant's price in a channel (integer minor units), optionally scheduled."""

    __tablename__ = "variant_prices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), nullable=False)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    compare_at_amount: Mapped[int | None] = mapped_column(BigInteger)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_variant_prices_variant_channel", "variant_id", "channel_id"),
    )


class ProductListing(Base):
    """Read model for storefront lists: one row per product visible in a channel, carrying what a
    list item shows and sorts by, so a page is one index scan with no joins or aggregates.
    Maintained by the catalogue service whenever a product, its variants, prices or media change."""

    __tablename__ = "product_listings"

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    category_path: Mapped[str | None] = mapped_column(Text)
    brand_id: Mapped[uuid.UUID | None] = mapped_column()
    min_price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    in_stock: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    thumbnail: Mapped[str | None] = mapped_column(Text)
    rating_avg: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    popularity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Filterable attribute values ({"colour": "red", "material": ["cotton"]}) and collections the
    # product belongs to, so attribute and collection filters stay on this one table.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    collection_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), nullable=False, server_default=text("'{}'")
    )

    __table_args__ = (
        UniqueConstraint("channel_id", "slug", name="uq_product_listings_channel_id_slug"),
        # One index per sort order, each ending with the product id for keyset pagination.
        Index("ix_product_listings_newest", "channel_id", text("published_at DESC"), text("product_id DESC")),
        Index("ix_product_listings_price", "channel_id", "min_price", "product_id"),
        Index("ix_product_listings_name", "channel_id", "name", "product_id"),
        Index("ix_product_listings_popularity", "channel_id", text("popularity DESC"), text("product_id DESC")),
        Index("ix_product_listings_rating", "channel_id", text("rating_avg DESC"), text("product_id DESC")),
        Index("ix_product_listings_category", "channel_id", "category_path",
              postgresql_ops={"category_path": "text_pattern_ops"}),
        Index("ix_product_listings_attributes", "attributes", postgresql_using="gin",
              postgresql_ops={"attributes": "jsonb_path_ops"}),
        Index("ix_product_listings_collection_ids", "collection_ids", postgresql_using="gin"),
    )
