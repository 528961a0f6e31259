"""Typed attributes that product types are built from, and the values a product may hold."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.kit.db import Base, TimestampMixin
from mercato.kit.ids import new_id

ATTRIBUTE_TYPES = (
    "text", "rich_text", "number", "boolean", "date", "select", "multiselect", "swatch", "reference",
)


class Attribute(TimestampMixin, Base):
    __tablename__ = "attributes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(12), nullable=False)
    unit: Mapped[str | None] = mapped_column(String(20))  # number attributes: "cm", "g", "W"...
    # select/multiselect/swatch: [{"value": "red", "label": "Red", "hex": "#ff0000"?}]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'"))
    filterable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (CheckConstraint(f"type IN {ATTRIBUTE_TYPES}", name="type"),)
