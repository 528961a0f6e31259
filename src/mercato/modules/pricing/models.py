"""Price data the checkout's pricing engine applies: customer groups, and price lists per channel
with quantity tiers. Base prices stay with the catalogue (`variant_prices`); other modules' tables
are referenced by foreign key name only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id


class CustomerGroup(TimestampMixin, Base):
    """Customers priced alike. `tax_exempt`: its members pay no tax (B2B buyers with a VAT id,
    reverse charge); membership is how a customer's exemption is granted and withdrawn."""

    __tablename__ = "customer_groups"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    tax_exempt: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class CustomerGroupMember(Base):
    __tablename__ = "customer_group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    # Resolving prices asks "which groups is this customer in?": the customer leads this index.
    __table_args__ = (Index("ix_customer_group_members_customer", "customer_id", "group_id"),)


class PriceList(TimestampMixin, Base):
    """Prices for one channel (in its currency), for everyone or for one customer group, optionally
    within a validity window. `priority` decides between lists that both apply (higher wins)."""

    __tablename__ = "price_lists"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    customer_group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="RESTRICT")
    )
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        CheckConstraint("valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to", name="window"),
        Index("ix_price_lists_channel", "channel_id", "is_active"),
        Index("ix_price_lists_customer_group", "customer_group_id"),
    )


class PriceListEntry(Base):
    """A variant's unit price in a list from `min_quantity` units up (quantity tiers)."""

    __tablename__ = "price_list_entries"

    price_list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"),
                                                     primary_key=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    min_quantity: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        # Checkout looks entries up by variant across the channel's lists.
        Index("ix_price_list_entries_variant", "variant_id", "min_quantity"),
    )

# Tax tables live in their own file; imported here so the model registry (registry.import_all_models) sees them.
from mercato.modules.pricing.tax_models import TaxClass, TaxZone, TaxZoneRate  # noqa: E402, F401
