"""Promotions, their coupon codes, and how often they were used.

The benefit and the conditions are JSONB documents in the shape of the admin API (validated there,
ids checked to exist when written); the columns the storefront filters on (trigger, activity,
window, channels) and the counters `redeem` updates atomically are plain columns. Check
constraints make the limits hold even against a faulty writer: `uses` never passes
`usage_limit`, `spent` never passes `budget`, a code's `uses` never passes its `max_uses`.
Other modules' tables are referenced by foreign-key name only.
"""

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
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id

TRIGGERS = ("automatic", "coupon")


class Promotion(TimestampMixin, Base):
    __tablename__ = "promotions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    trigger: Mapped[str] = mapped_column(String(10), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Empty: every channel.
    channel_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), nullable=False, default=list)
    # The currency of its amounts; None for a promotion without amounts (applies in any currency).
    currency: Mapped[str | None] = mapped_column(ForeignKey("currencies.code", ondelete="RESTRICT"))
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    exclusive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    stackable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    benefit: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    budget: Mapped[int | None] = mapped_column(BigInteger)
    spent: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    max_discount_amount: Mapped[int | None] = mapped_column(BigInteger)
    max_discount_ppm: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        CheckConstraint(f"trigger IN {TRIGGERS}", name="trigger"),
        CheckConstraint("starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at", name="window"),
        CheckConstraint("uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)", name="uses"),
        CheckConstraint("usage_limit IS NULL OR usage_limit >= 1", name="usage_limit_positive"),
        CheckConstraint("per_customer_limit IS NULL OR per_customer_limit >= 1", name="per_customer_limit_positive"),
        CheckConstraint("spent >= 0 AND (budget IS NULL OR spent <= budget)", name="spent"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget_not_negative"),
        CheckConstraint("max_discount_amount IS NULL OR max_discount_amount >= 0", name="max_discount_amount"),
        CheckConstraint("max_discount_ppm IS NULL OR max_discount_ppm BETWEEN 1 AND 1000000",
                        name="max_discount_ppm"),
        # The cart loads the running automatic promotions on every evaluation.
        Index("ix_promotions_automatic", "priority", postgresql_where=text("is_active AND trigger = 'automatic'")),
        Index("ix_promotions_channels", "channel_ids", postgresql_using="gin"),
    )


class PromotionCode(Base):
    """A coupon code (stored upper-case; shoppers' input is normalised the same way). `max_uses`
    None: as often as the promotion allows; 1: single use."""

    __tablename__ = "promotion_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    promotion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # The bulk generation that made it (None: added by hand).
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    __table_args__ = (
        CheckConstraint("max_uses IS NULL OR max_uses >= 1", name="max_uses_positive"),
        CheckConstraint("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="uses"),
        Index("ix_promotion_codes_promotion", "promotion_id", "id"),
        Index("ix_promotion_codes_batch", "batch_id", "id", postgresql_where=text("batch_id IS NOT NULL")),
    )


class PromotionCustomerUse(Base):
    """How often a customer used a promotion that limits uses per customer: the counter `redeem`
    increments conditionally (the row lock serialises one customer's concurrent checkouts)."""

    __tablename__ = "promotion_customer_uses"

    promotion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"),
                                                    primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    uses: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        CheckConstraint("uses >= 1", name="uses_positive"),
        # Loading a cart's promotions looks the customer up across promotions.
        Index("ix_promotion_customer_uses_customer", "customer_id"),
    )


class PromotionRedemption(Base):
    """One promotion counted on one order (`order_id` is the order's id; the orders table
    arrives later, so no foreign key). A promotion is counted at most once per order. A
    promotion with redemptions cannot be deleted (deactivate it instead)."""

    __tablename__ = "promotion_redemptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    promotion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotions.id", ondelete="RESTRICT"),
                                                    nullable=False)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid(), nullable=False)
    code: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    __table_args__ = (
        UniqueConstraint("promotion_id", "order_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_promotion_redemptions_order", "order_id"),
        Index("ix_promotion_redemptions_customer", "customer_id"),
    )
