"""Inventory tables: warehouses, stock per variant per warehouse (split into buckets), the movement
ledger, reservations and allocations, lots, and replenishment (suppliers, purchase orders,
transfers, cycle counts).

Where the counts live. A stock row keeps `on_hand` and `safety_stock`; what is promised lives in its
buckets (`reserved`, `allocated`, and a `quota` of units each bucket may hand out). A reservation
takes units from one bucket only, so buyers of one hot SKU lock different rows instead of queueing
on one (ADR 0010). Totals are sums over the buckets; a stock row with one bucket behaves like the
classic single-row counter.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
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


class Warehouse(TimestampMixin, Base):
    __tablename__ = "warehouses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    country_code: Mapped[str] = mapped_column(String(2), nullable=False)
    # Coordinates are positions, not money: floats are the right type.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=100)  # lower ships first
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    click_and_collect: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    channel_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False,
                                                          default=list)
    # Destination countries it ships to; empty means every country of the channels it serves.
    ship_countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)), nullable=False, default=list)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude"),
        Index("ix_warehouses_channels", "channel_ids", postgresql_using="gin"),
    )


class InventoryItem(Base):
    """Stock policy of one variant: backorders, preorders, lots, and how many buckets its stock rows use."""

    __tablename__ = "inventory_items"

    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    backorder_limit: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    preorder_release_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    preorder_cap: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lot_tracked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    buckets: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    __table_args__ = (
        CheckConstraint("backorder_limit >= 0", name="backorder_limit"),
        CheckConstraint("preorder_cap >= 0", name="preorder_cap"),
        CheckConstraint("buckets BETWEEN 1 AND 64", name="buckets"),
    )


class StockLevel(Base):
    __tablename__ = "stock_levels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), nullable=False)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"), nullable=False)
    on_hand: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    reorder_point: Mapped[int | None] = mapped_column(Integer)
    reorder_quantity: Mapped[int | None] = mapped_column(Integer)
    low_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # stock.low sent once per dip
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    __table_args__ = (
        UniqueConstraint("variant_id", "warehouse_id", name="variant_warehouse"),
        Index("ix_stock_levels_warehouse", "warehouse_id", "variant_id"),
        CheckConstraint("safety_stock >= 0", name="safety_stock"),
    )


class StockBucket(Base):
    """A hot SKU's bucket is updated by every reservation and read by every cart change: the table
    keeps half of each page free and is vacuumed after 200 changed rows (migration 0016, decision
    0017), so reads do not walk long chains of old row versions."""

    __tablename__ = "stock_buckets"

    stock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_levels.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    quota: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    allocated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        # The last line of defence against overselling: no interleaving can promise more than the quota.
        CheckConstraint("reserved >= 0 AND allocated >= 0 AND reserved + allocated <= quota", name="within_quota"),
    )


class StockReservation(Base):
    __tablename__ = "stock_reservations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(200), nullable=False)  # e.g. "cart:<id>"
    stock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_levels.id", ondelete="CASCADE"), nullable=False)
    bucket: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    channel_id: Mapped[uuid.UUID | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_stock_reservations_reference", "reference"),
        Index("ix_stock_reservations_expires_at", "expires_at"),
    )


class StockAllocation(Base):
    __tablename__ = "stock_allocations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(200), nullable=False)  # e.g. "order:<id>"
    stock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_levels.id", ondelete="RESTRICT"), nullable=False)
    bucket: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)  # still to ship
    shipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)  # [{lot_id, quantity}]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    __table_args__ = (
        CheckConstraint("quantity >= 0 AND shipped >= 0", name="quantities"),
        Index("ix_stock_allocations_reference", "reference"),
    )


class StockLot(Base):
    __tablename__ = "stock_lots"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    stock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_levels.id", ondelete="CASCADE"), nullable=False)
    lot_number: Mapped[str] = mapped_column(String(100), nullable=False)
    expires_on: Mapped[date | None] = mapped_column(Date)
    on_hand: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    allocated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        UniqueConstraint("stock_id", "lot_number", name="stock_lot"),
        CheckConstraint("on_hand >= 0 AND allocated >= 0 AND allocated <= on_hand", name="quantities"),
        Index("ix_stock_lots_fefo", "stock_id", "expires_on"),
    )


class StockMovement(Base):
    """The ledger: append-only; `on_hand` of a stock row is the sum of its `on_hand_delta`s."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    stock_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_levels.id", ondelete="RESTRICT"), nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    on_hand_delta: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    allocated_delta: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    reference_type: Mapped[str | None] = mapped_column(String(30))
    reference_id: Mapped[str | None] = mapped_column(String(200))
    lot_id: Mapped[uuid.UUID | None] = mapped_column()
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    __table_args__ = (
        Index("ix_stock_movements_stock", "stock_id", "id"),
        Index("ix_stock_movements_variant", "variant_id", "id"),
        Index("ix_stock_movements_warehouse", "warehouse_id", "id"),
        Index("ix_stock_movements_reference", "reference_type", "reference_id"),
    )


class Availability(Base):
    """Whether a variant can be sold in a channel: maintained by the inventory service when it flips,
    read by the catalogue's storefront SQL (in_stock)."""

    __tablename__ = "inventory_availability"

    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    sellable: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Supplier(TimestampMixin, Base):
    __tablename__ = "suppliers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    lead_time_days: Mapped[int] = mapped_column(Integer, nullable=False, default=7)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class PurchaseOrder(TimestampMixin, Base):
    __tablename__ = "purchase_orders"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("suppliers.id", ondelete="RESTRICT"), nullable=False)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    expected_at: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        Index("ix_purchase_orders_status", "status", "id"),
        Index("ix_purchase_orders_supplier", "supplier_id", "id"),
    )


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"),
                                                         nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"), nullable=False)
    quantity_ordered: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_received: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unit_cost: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # minor units of the PO currency

    __table_args__ = (
        UniqueConstraint("purchase_order_id", "variant_id", name="po_variant"),
        CheckConstraint("quantity_ordered > 0 AND quantity_received >= 0 AND unit_cost >= 0", name="quantities"),
    )


class Transfer(TimestampMixin, Base):
    __tablename__ = "stock_transfers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    from_warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"),
                                                         nullable=False)
    to_warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (
        CheckConstraint("from_warehouse_id <> to_warehouse_id", name="two_warehouses"),
        Index("ix_stock_transfers_status", "status", "id"),
    )


class TransferLine(Base):
    __tablename__ = "stock_transfer_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_transfers.id", ondelete="CASCADE"), nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_received: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        UniqueConstraint("transfer_id", "variant_id", name="transfer_variant"),
        Index("ix_stock_transfer_lines_variant", "variant_id"),
        CheckConstraint("quantity > 0 AND quantity_received >= 0 AND quantity_received <= quantity",
                        name="quantities"),
    )


class StockCount(TimestampMixin, Base):
    __tablename__ = "stock_counts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __table_args__ = (Index("ix_stock_counts_status", "status", "id"),)


class StockCountLine(Base):
    __tablename__ = "stock_count_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    count_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"), nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"), nullable=False)
    counted: Mapped[int] = mapped_column(Integer, nullable=False)
    expected: Mapped[int | None] = mapped_column(Integer)  # on hand when the count was applied

    __table_args__ = (
        UniqueConstraint("count_id", "variant_id", name="count_variant"),
        CheckConstraint("counted >= 0", name="counted"),
    )


# Human-readable document numbers (PO-000042) come from one sequence per kind.
DOCUMENT_SEQUENCES = {"purchase_order": "purchase_order_numbers", "transfer": "transfer_numbers",
                      "count": "stock_count_numbers"}
