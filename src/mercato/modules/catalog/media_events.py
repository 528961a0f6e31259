"""Events of product media (delivered through the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class MediaUploaded:
    """An original is stored and its row is `processing`: the worker derives the renditions."""

    name: ClassVar[str] = "catalog.media_uploaded"
    media_id: str
    product_id: str
    storage_key: str
