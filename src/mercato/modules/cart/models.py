"""Carts and their lines. Other modules' tables (channels, customers, variants) are referenced by
foreign-key name only.

A cart's id is a random 128-bit value (not a time-ordered id): holding it is what lets a guest use
the cart, so it must not be guessable. Prices are not stored as truth: every read prices the cart
afresh; a line keeps only the unit price it had when the shopper last changed it, to show a change.

The rules on single columns (status, quantity, unit price) are domains rather than table CHECK
constraints: PostgreSQL reads a table's CHECK constraints back from their stored text on every
statement that writes a row, and every add-to-cart writes both tables; a domain's check is read
once per connection and runs only when the column is assigned (decision 0016).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOMAIN, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id
from mercato.modules.cart.rules import HARD_MAX_QUANTITY

STATUSES = ("active", "completed")

CART_STATUS = DOMAIN("cart_status", String(10), check=f"VALUE IN {STATUSES}")
LINE_QUANTITY = DOMAIN("cart_line_quantity", Integer(), check=f"VALUE BETWEEN 1 AND {HARD_MAX_QUANTITY}")
LINE_UNIT_PRICE = DOMAIN("cart_line_unit_price", BigInteger(), check="VALUE >= 0")


class Cart(TimestampMixin, Base):
    __tablename__ = "carts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(CART_STATUS, nullable=False, server_default="active")
    email: Mapped[str | None] = mapped_column(String(320))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    shipping_option_id: Mapped[str | None] = mapped_column(String(200))
    # The chosen option as last quoted (id, name, price, days, tax class): reads show it without
    # asking the shipping module again; every change and the checkout quote it afresh.
    shipping_quote: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    coupons: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False, server_default=text("'{}'"))
    # `cart.abandoned` was emitted for the current spell of inactivity (cleared by any change).
    abandoned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    __table_args__ = (
        # One active cart per customer and channel: the same cart on every device.
        Index("ix_carts_customer_channel", "customer_id", "channel_id", unique=True,
              postgresql_where=text("status = 'active' AND customer_id IS NOT NULL")),
        Index("ix_carts_expires_at", "expires_at"),
        # The abandonment sweep reads only carts that may still need the event.
        Index("ix_carts_abandonment", "updated_at",
              postgresql_where=text("status = 'active' AND abandoned_at IS NULL"
                                    " AND (email IS NOT NULL OR customer_id IS NOT NULL)")),
    )


class CartLine(TimestampMixin, Base):
    __tablename__ = "cart_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), nullable=False)
    quantity: Mapped[int] = mapped_column(LINE_QUANTITY, nullable=False)
    # The unit price when the shopper last changed this line (to show a price change since).
    unit_price: Mapped[int] = mapped_column(LINE_UNIT_PRICE, nullable=False)

    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        Index("ix_cart_lines_variant_id", "variant_id"),
    )
