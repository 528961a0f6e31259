"""Every change to a product as a revision: who, when, what action, the full state after it and
the field-level difference from the state before."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base
from mercato.kit.ids import new_id


class ProductRevision(Base):
    __tablename__ = "product_revisions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)  # products.version after the change
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # create, update, submit, approve, ...
    actor: Mapped[str] = mapped_column(String(100), nullable=False)  # "staff:<id>", "api_key:<id>", "system"
    comment: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)  # {"field": {"from": .., "to": ..}}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    __table_args__ = (UniqueConstraint("product_id", "version", name="uq_product_revisions_product_id_version"),)
