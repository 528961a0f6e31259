"""Time-ordered identifiers (UUIDv7): sortable by creation time, so primary-key indexes stay compact."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def parse_id(value: str) -> uuid.UUID | None:
    """Parse a client-supplied id; None when it is not a UUID (callers answer 404)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
