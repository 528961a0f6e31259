"""Payments (one per authorization attempt of an order) and their gateway transactions.

A payment is unique per (gateway, idempotency_key): that constraint is what makes a retried or
concurrent authorize reuse the first attempt instead of charging again. Transactions keep each
gateway call's answer (`raw`, scrubbed of tokens and card data) as the audit trail.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id
from mercato.modules.payments.rules import PAYMENT_STATUSES, TRANSACTION_KINDS, TRANSACTION_STATUSES


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False)
    gateway: Mapped[str] = mapped_column(String(50), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    psp_reference: Mapped[str | None] = mapped_column(String(255))
    decline_code: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(String(500))
    # What the buyer must do next while status is requires_action (3-D Secure challenge).
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)

    __table_args__ = (
        CheckConstraint(_one_of("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        UniqueConstraint("gateway", "idempotency_key"),
        Index("ix_payments_order", "order_id", "created_at"),
    )


class PaymentTransaction(Base):
    __tablename__ = "payment_transactions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    psp_reference: Mapped[str | None] = mapped_column(String(255))
    decline_code: Mapped[str | None] = mapped_column(String(100))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    __table_args__ = (
        CheckConstraint(_one_of("kind", TRANSACTION_KINDS), name="kind"),
        CheckConstraint(_one_of("status", TRANSACTION_STATUSES), name="status"),
        Index("ix_payment_transactions_payment", "payment_id", "created_at"),
    )
