from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id


class Currency(Base):
    __tablename__ = "currencies"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    exponent: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    is_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Channel(TimestampMixin, Base):
    __tablename__ = "channels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code"), nullable=False)
    default_country: Mapped[str] = mapped_column(String(2), nullable=False)
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)), nullable=False, default=list)
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # How long checkout holds stock for a buyer of this channel (refreshed while they are active).
    reservation_ttl_s: Mapped[int] = mapped_column(Integer, nullable=False, default=900, server_default="900")

    __table_args__ = (CheckConstraint("reservation_ttl_s BETWEEN 60 AND 86400", name="reservation_ttl"),)
