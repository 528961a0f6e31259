"""Shipping rate tables: zones (areas by country, region, postcode), methods per zone and their
rates per currency. Channels and warehouses belong to other modules and are referenced by id only
(arrays cannot carry foreign keys; the service checks the ids on every write)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id


class ShippingZone(TimestampMixin, Base):
    """Where methods apply. `channel_ids` empty: every channel. Which zone answers an address:
    see rules.py (most specific area, then higher `priority`)."""

    __tablename__ = "shipping_zones"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False, default=list)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class ShippingZoneArea(Base):
    """One area of a zone: a country, or one region of it, or a postcode prefix or range in it
    (normalised: upper case, letters and digits only)."""

    __tablename__ = "shipping_zone_areas"

    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"),
                                               primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2), nullable=False)
    region: Mapped[str | None] = mapped_column(String(10))
    postal_prefix: Mapped[str | None] = mapped_column(String(10))
    postal_from: Mapped[str | None] = mapped_column(String(10))
    postal_to: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        CheckConstraint("num_nonnulls(region, postal_prefix, postal_from) <= 1", name="one_narrowing"),
        CheckConstraint("(postal_from IS NULL) = (postal_to IS NULL)", name="postal_range_pair"),
        # Quoting starts from the destination country.
        Index("ix_shipping_zone_areas_country", "country_code", "zone_id"),
    )


class ShippingMethod(TimestampMixin, Base):
    """A way to ship within a zone, priced per currency (`ShippingMethodRate`). `warehouse_ids`
    empty: ships from any warehouse."""

    __tablename__ = "shipping_methods"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(50), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    carrier: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    min_days: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    max_days: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    tax_class: Mapped[str] = mapped_column(String(20), nullable=False, default="standard")
    warehouse_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        UniqueConstraint("zone_id", "code"),
        CheckConstraint("kind IN ('flat', 'free_over', 'weight_tiers', 'price_tiers')", name="kind"),
        CheckConstraint("min_days >= 0 AND min_days <= max_days", name="days"),
    )


class ShippingMethodRate(Base):
    """A method's price in one currency: `amount` (flat, free_over), `free_over` (the threshold),
    or `tiers` as [[bound, amount], ...] ascending (weight_tiers: max grams; price_tiers: min subtotal)."""

    __tablename__ = "shipping_method_rates"

    method_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipping_methods.id", ondelete="CASCADE"),
                                                 primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    free_over: Mapped[int | None] = mapped_column(BigInteger)
    tiers: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, default=list)

    __table_args__ = (
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
        CheckConstraint("free_over IS NULL OR free_over >= 0", name="free_over_not_negative"),
    )
