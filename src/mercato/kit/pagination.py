"""Keyset pagination: stable under concurrent inserts and index-backed at any depth (no OFFSET).

A cursor is an opaque, url-safe encoding of the last row's sort key.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mercato.kit.errors import FieldError, InvalidInput

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True)
class SortKey:
    column: ColumnElement[Any]
    descending: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class InvalidCursor(InvalidInput):
    code = "pagination.invalid_cursor"


def _tag(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (kind, raw), = value.items()
        if kind == "u":
            return uuid.UUID(raw)
        if kind == "t":
            return datetime.fromisoformat(raw)
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_tag(v) for v in values])).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_untag(v) for v in orjson.loads(raw)]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise _invalid() from exc
    if not isinstance(values, list) or len(values) != width:
        raise _invalid()
    return values


def _invalid() -> InvalidCursor:
    return InvalidCursor(
        "The cursor is not valid for this list.",
        errors=[FieldError("cursor", "invalid", "Use next_cursor from a previous page, unchanged.")],
    )


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order given by `keys` (mixed directions allowed)."""
    clauses = []
    for i, key in enumerate(keys):
        equal_prefix = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    keys: Sequence[SortKey],
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    scalars: bool = True,
) -> Page[Any]:
    """Fetch one page of `stmt` ordered by `keys` (the last key must be unique, e.g. the id)."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        stmt = stmt.where(after(keys, decode_cursor(cursor, len(keys))))
    stmt = stmt.order_by(*[k.column.desc() if k.descending else k.column.asc() for k in keys]).limit(limit + 1)
    result = await session.execute(stmt)
    rows: list[Any] = list(result.scalars().all() if scalars else result.all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([_value_of(last, k) for k in keys])
    return Page(rows, next_cursor)


def _value_of(row: Any, key: SortKey) -> Any:
    name = getattr(key.column, "key", None) or getattr(key.column, "name", None)
    if name is None:
        raise ValueError("sort keys must be named columns")
    return getattr(row, name) if not isinstance(row, dict) else row[name]
