"""Orders, their lines (a snapshot of what was bought and how it was priced) and their timeline.

Lines keep variant and product ids without foreign keys: the order is a record of the sale and
outlives catalogue changes. `cart_id` is unique (where set): one order per cart is what makes a
double-clicked checkout produce one order. Order numbers come from the sequence
`order_number_seq` (gapless is not promised; sequential and unique is). Other modules' tables are
referenced by foreign-key name only.
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
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id
from mercato.modules.orders.rules import FULFILLMENT_STATUSES, ORDER_STATUSES, PAYMENT_STATUSES, one_of

NUMBER_DEFAULT = "'M-' || nextval('order_number_seq')"


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True, server_default=text(NUMBER_DEFAULT))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="RESTRICT"), nullable=False)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    payment_status: Mapped[str] = mapped_column(String(20), nullable=False)
    fulfillment_status: Mapped[str] = mapped_column(String(20), nullable=False)
    subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    discount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shipping: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tax: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, nullable=False)
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    billing_address: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    shipping_option: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'"))
    coupons: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False, server_default=text("'{}'"))
    cart_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    # sha256 (hex) of the order token given to the buyer; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint(one_of("payment_status", PAYMENT_STATUSES), name="payment_status"),
        CheckConstraint(one_of("fulfillment_status", FULFILLMENT_STATUSES), name="fulfillment_status"),
        CheckConstraint("subtotal >= 0 AND discount >= 0 AND shipping >= 0 AND tax >= 0 AND total >= 0",
                        name="amounts_not_negative"),
        Index("uq_orders_cart_id", "cart_id", unique=True, postgresql_where=text("cart_id IS NOT NULL")),
        # The keyset lists: a customer's orders, and the admin list with its filters, newest first.
        Index("ix_orders_customer", "customer_id", "created_at", "id",
              postgresql_where=text("customer_id IS NOT NULL")),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_status", "status", "created_at", "id"),
        Index("ix_orders_email", "email", "created_at", "id"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid(), nullable=False)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid(), nullable=False)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    discount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tax: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tax_rate_ppm: Mapped[int] = mapped_column(Integer, nullable=False)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'"))

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0 AND subtotal >= 0 AND discount >= 0 AND tax >= 0 AND total >= 0",
                        name="amounts_not_negative"),
        Index("ix_order_lines_order", "order_id", "position"),
    )


class OrderEvent(Base):
    """One entry of an order's timeline (placed, payment authorized, ...)."""

    __tablename__ = "order_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    # Who caused it: "customer:<id>", "staff:<id>", "guest", "system".
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    __table_args__ = (Index("ix_order_events_order", "order_id", "created_at", "id"),)
