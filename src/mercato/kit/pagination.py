"""Keyset pagination: stable under concurrent inserts and index-backed at any depth (no OFFSET).

A cursor is an opaque, url-safe encoding of the last row's sort key.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Select, and_, bindparam, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from mercato.kit.errors import FieldError, InvalidInput

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True)
class SortKey:
    column: ColumnElement[Any] | InstrumentedAttribute[Any]
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
    if isinstance(value, date):
        return {"D": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (kind, raw), = value.items()
        if not isinstance(raw, str):
            raise TypeError("tagged cursor values are strings")
        if kind == "u":
            return uuid.UUID(raw)
        if kind == "t":
            return datetime.fromisoformat(raw)
        if kind == "D":
            return date.fromisoformat(raw)
        if kind == "d":
            number = Decimal(raw)
            if not number.is_finite():
                raise ValueError("not a finite decimal")
            return number
    if isinstance(value, dict | list):
        raise TypeError("cursor values are scalars")
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_tag(v) for v in values])).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(decoded, list) or len(decoded) != width:
            raise _invalid()
        return [_untag(v) for v in decoded]
    except (ArithmeticError, ValueError, TypeError, KeyError) as exc:  # binascii, orjson, uuid, ...
        raise _invalid() from exc


def _invalid() -> InvalidCursor:
    return InvalidCursor(
        "The cursor is not valid for this list.",
        errors=[FieldError("cursor", "invalid", "Use next_cursor from a previous page, unchanged.")],
    )


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order given by `keys` (mixed directions allowed).

    When every key sorts the same way this is a row comparison, `(a, b) < (x, y)`, which PostgreSQL
    turns into the start of an index range scan: a page deep in the list costs what the first does.
    Mixed directions need the expanded form; its first key's inclusive bound still lets the scan
    start near the cursor instead of at the beginning of the index."""
    if all(key.descending == keys[0].descending for key in keys):
        row = tuple_(*[key.column for key in keys])
        bound = tuple_(*[bindparam(None, value, type_=key.column.type)
                         for key, value in zip(keys, values, strict=True)])
        return row < bound if keys[0].descending else row > bound
    clauses = []
    for i, key in enumerate(keys):
        equal_prefix = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal_prefix, beyond))
    first = keys[0]
    start = first.column <= values[0] if first.descending else first.column >= values[0]
    return and_(start, or_(*clauses))


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
        values = decode_cursor(cursor, len(keys))
        if not all(_fits(key, value) for key, value in zip(keys, values, strict=True)):
            raise _invalid()  # a cursor of another list, or tampered with: never let it reach the driver
        stmt = stmt.where(after(keys, values))
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


def decode_for(keys: Sequence[SortKey], cursor: str) -> list[Any]:
    """The values of a cursor for `keys`, checked as `keyset_page` checks them (for callers that
    write their own SQL around the same keys)."""
    values = decode_cursor(cursor, len(keys))
    if not all(_fits(key, value) for key, value in zip(keys, values, strict=True)):
        raise _invalid()
    return values


def _fits(key: SortKey, value: Any) -> bool:
    """Whether a decoded cursor value has the Python type the sort column binds, and a value the
    driver can bind and PostgreSQL can compare (a tampered cursor is client input like any other)."""
    if value is None:
        return True
    try:
        expected: type[Any] = key.column.type.python_type
    except (AttributeError, NotImplementedError):
        return not isinstance(value, dict | list) and _bindable(value)
    if isinstance(value, bool) and expected is not bool:
        return False
    if expected in (Decimal, float):
        return isinstance(value, int | float | Decimal) and _bindable(value)
    if expected is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    return isinstance(value, expected) and _bindable(value)


_INT64 = range(-(2**63), 2**63)
# PostgreSQL numeric: up to 131072 digits before the decimal point, 16383 after.
_NUMERIC_EXPONENTS = range(-16383, 131072)


def _bindable(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value  # PostgreSQL text cannot hold NUL, nor compare with it
    if isinstance(value, int) and not isinstance(value, bool):
        return value in _INT64  # the widest integer column; beyond it asyncpg refuses to encode
    if isinstance(value, Decimal):
        return value.adjusted() in _NUMERIC_EXPONENTS and value.as_tuple().exponent in _NUMERIC_EXPONENTS
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value.astimezone(UTC)  # what the driver does; an offset can push the year past 9999
        except OverflowError:
            return False
    return True


def _value_of(row: Any, key: SortKey) -> Any:
    name = getattr(key.column, "key", None) or getattr(key.column, "name", None)
    if name is None:
        raise ValueError("sort keys must be named columns")
    return getattr(row, name) if not isinstance(row, dict) else row[name]
