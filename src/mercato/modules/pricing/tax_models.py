"""Tax tables: classes (variants and shipping name one by code), zones (a country, optionally
narrowed to a region and/or a postcode prefix) and each zone's rate per class.

Variants refer to a class by its code (`variants.tax_class`, a string owned by the catalogue), so a
class's code never changes once created.
"""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id


class TaxClass(TimestampMixin, Base):
    __tablename__ = "tax_classes"

    # 20 characters: the width of variants.tax_class.
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class TaxZone(TimestampMixin, Base):
    """Where a set of rates applies. `region` is an ISO 3166-2 subdivision code without the
    country ('NY'), `postcode_prefix` is upper case without spaces or dashes ('SW1A')."""

    __tablename__ = "tax_zones"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    region: Mapped[str | None] = mapped_column(String(3))
    postcode_prefix: Mapped[str | None] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        # One zone per area: two zones covering exactly the same addresses would make the choice
        # between them arbitrary. NULLs count as equal here (PostgreSQL 15+).
        Index("uq_tax_zones_area", "country", "region", "postcode_prefix", unique=True,
              postgresql_nulls_not_distinct=True),
    )


class TaxZoneRate(Base):
    __tablename__ = "tax_zone_rates"

    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tax_zones.id", ondelete="CASCADE"), primary_key=True)
    tax_class: Mapped[str] = mapped_column(ForeignKey("tax_classes.code", ondelete="CASCADE"), primary_key=True)
    rate_ppm: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)

    __table_args__ = (
        CheckConstraint("rate_ppm BETWEEN 0 AND 1000000", name="rate_ppm"),
        # Deleting a class cascades through this index.
        Index("ix_tax_zone_rates_tax_class", "tax_class"),
    )
