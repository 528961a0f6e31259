"""Keyset cursors: opaque, url-safe, lossless for the sort-key types, and strict about garbage."""

from __future__ import annotations

import base64
import contextlib
import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.kit.errors import InvalidInput
from mercato.kit.pagination import InvalidCursor, decode_cursor, encode_cursor

offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
datetimes = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=offsets),
)
scalars = st.one_of(
    st.uuids(),
    datetimes,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
URLSAFE = re.compile(r"^[A-Za-z0-9_-]*$")


@given(values=st.lists(scalars, min_size=1, max_size=5))
def test_cursor_round_trip(values: list[Any]) -> None:
    cursor = encode_cursor(values)
    assert URLSAFE.match(cursor), cursor
    decoded = decode_cursor(cursor, len(values))
    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]
    for original, back in zip(values, decoded, strict=True):
        if isinstance(original, datetime):
            assert back.utcoffset() == original.utcoffset()  # aware stays aware, naive stays naive


@given(key=st.tuples(datetimes, st.uuids()))
def test_typical_sort_key_round_trip(key: tuple[datetime, uuid.UUID]) -> None:
    assert tuple(decode_cursor(encode_cursor(key), 2)) == key


def test_a_string_that_looks_like_a_tag_stays_a_string() -> None:
    values = ['{"u": "x"}', "u", "t"]
    assert decode_cursor(encode_cursor(values), 3) == values


def test_decimal_and_date_keep_their_type() -> None:
    values = [Decimal("19.990"), date(2024, 2, 29)]
    assert decode_cursor(encode_cursor(values), 2) == values


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


GARBAGE = [
    "",
    "!!!",
    "not a cursor",
    "a",  # impossible base64 length
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),  # not JSON
    _b64({"a": 1}),  # JSON but not a list
    _b64("ab"),  # a string: would otherwise iterate to ["a", "b"]
    _b64(5),
    _b64([1, 2]),  # wrong width
    _b64([]),
    _b64([{"u": 5}]),  # tagged value of the wrong type
    _b64([{"u": [1]}]),
    _b64([{"u": "not-a-uuid"}]),
    _b64([{"t": "yesterday"}]),
    _b64([{"t": None}]),
    _b64([{"D": "2024-13-01"}]),
    _b64([{"d": "NaN"}]),
    _b64([{"d": "abc"}]),
    _b64([{"x": 1}]),  # unknown tag
    _b64([[1, 2]]),  # nested list
]


@pytest.mark.parametrize("cursor", GARBAGE)
def test_garbage_cursor_raises_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as info:
        decode_cursor(cursor, 1)
    err = info.value
    assert isinstance(err, InvalidInput)  # answered as 422
    assert err.code == "pagination.invalid_cursor"
    assert [e.field for e in err.errors] == ["cursor"]


@given(junk=st.text(max_size=64))
def test_arbitrary_text_never_escapes_as_another_exception(junk: str) -> None:
    with contextlib.suppress(InvalidCursor):
        decode_cursor(junk, 1)


@given(junk=st.binary(max_size=64))
def test_arbitrary_bytes_never_escape_as_another_exception(junk: bytes) -> None:
    with contextlib.suppress(InvalidCursor):
        decode_cursor(base64.urlsafe_b64encode(junk).decode(), 2)


def _compiled(clause: Any) -> str:
    from sqlalchemy.dialects import postgresql

    return str(clause.compile(dialect=postgresql.dialect()))


def test_same_direction_keys_compare_as_a_row_so_the_index_range_starts_at_the_cursor() -> None:
    from sqlalchemy import Column, DateTime, MetaData, Table, Uuid

    from mercato.kit.pagination import SortKey, after

    listing = Table("listing", MetaData(), Column("published_at", DateTime(timezone=True)), Column("id", Uuid()))
    newest = [SortKey(listing.c.published_at, descending=True), SortKey(listing.c.id, descending=True)]
    sql = _compiled(after(newest, [datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()]))
    assert sql.startswith("(listing.published_at, listing.id) < (%(param_1)s"), sql
    oldest = [SortKey(listing.c.published_at), SortKey(listing.c.id)]
    assert " > " in _compiled(after(oldest, [datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()]))


def test_mixed_directions_keep_a_leading_bound() -> None:
    from sqlalchemy import Column, Integer, MetaData, Table, Uuid

    from mercato.kit.pagination import SortKey, after

    items = Table("items", MetaData(), Column("price", Integer()), Column("id", Uuid()))
    sql = _compiled(after([SortKey(items.c.price, descending=True), SortKey(items.c.id)], [500, uuid.uuid4()]))
    assert sql.startswith("items.price <= ")
    assert "items.price < " in sql
    assert "items.id > " in sql
