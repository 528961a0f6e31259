"""ETags for optimistic concurrency: a response carries one; `If-Match` with a stale one is 412."""

from __future__ import annotations

import hashlib

from mercato.kit.errors import PreconditionFailed


def etag_for(*parts: object) -> str:
    """A strong ETag from a row's identity and version (or any stable parts)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def check_if_match(if_match: str | None, current: str) -> None:
    """Raise PreconditionFailed unless `If-Match` is absent, `*`, or lists the current tag."""
    if if_match is None:
        return
    tags = _tags(if_match)
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(
        "The resource changed since you read it; fetch it again and retry.", code="precondition.stale"
    )


def matches_if_none_match(if_none_match: str | None, current: str) -> bool:
    """True when a GET may answer 304 Not Modified."""
    if if_none_match is None:
        return False
    tags = _tags(if_none_match)
    return "*" in tags or current in tags
