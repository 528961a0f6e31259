"""Request and response bodies of the product media admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RenditionOut(BaseModel):
    width: int
    height: int
    format: Literal["webp", "jpeg"]
    content_type: str
    url: str
    size_bytes: int


class MediaOut(BaseModel):
    id: str
    product_id: str
    url: str
    alt: str
    position: int
    status: Literal["processing", "ready", "failed"]
    content_type: str | None
    width: int | None
    height: int | None
    size_bytes: int | None
    sha256: str | None
    renditions: list[RenditionOut]
    created_at: datetime


class MediaList(BaseModel):
    items: list[MediaOut]
    next_cursor: str | None


class MediaUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alt: str | None = Field(default=None, max_length=300)
    position: int | None = Field(default=None, ge=0, le=1_000_000)


class MediaOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(max_length=1000, description="Every media id of the product, in the new order")
