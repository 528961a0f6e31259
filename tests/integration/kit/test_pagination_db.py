"""keyset_page over real PostgreSQL tables: every row exactly once, in order, one query per page."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

import httpx
import pytest
from babel.numbers import list_currencies
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.money import exponent
from mercato.kit.pagination import InvalidCursor, Page, SortKey, encode_cursor, keyset_page
from mercato.modules.channels.models import Currency

MaxQueries = Callable[[int], AbstractContextManager[object]]

rows_table = Table(
    "kit_page_rows",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("grp", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("name", String(20), nullable=False),
    Column("price", Numeric(12, 2), nullable=False),
    Column("day", Date, nullable=False),
)
c = rows_table.c

ROW_COUNT = 57


@pytest.fixture
async def table_rows(session: AsyncSession) -> list[dict[str, Any]]:
    """A temp table in the test transaction (gone with its rollback), full of ties on every column."""
    await session.execute(
        text(
            "CREATE TEMP TABLE kit_page_rows (id uuid PRIMARY KEY, grp int NOT NULL, "
            "created_at timestamptz NOT NULL, name varchar(20) NOT NULL, price numeric(12, 2) NOT NULL, "
            "day date NOT NULL)"
        )
    )
    rnd = random.Random(20240229)
    base = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    rows = [
        {
            "id": uuid.UUID(int=rnd.getrandbits(128)),
            "grp": rnd.randrange(4),
            "created_at": base + timedelta(seconds=rnd.randrange(6)),
            "name": rnd.choice(["alpha", "beta", "gamma", "delta", "alphabet"]),
            "price": Decimal(rnd.randrange(0, 500, 25)) / 100,
            "day": date(2024, 2, 28) + timedelta(days=rnd.randrange(3)),
        }
        for _ in range(ROW_COUNT)
    ]
    await session.execute(insert(rows_table), rows)
    return rows


def expected_order(rows: Sequence[Any], keys: Sequence[tuple[str, bool]]) -> list[Any]:
    def get(row: Any, name: str) -> Any:
        return row[name] if isinstance(row, dict) else getattr(row, name)

    def compare(a: Any, b: Any) -> int:
        for name, descending in keys:
            x, y = get(a, name), get(b, name)
            if x != y:
                result = -1 if x < y else 1
                return -result if descending else result
        return 0

    return sorted(rows, key=cmp_to_key(compare))


async def walk(
    session: AsyncSession,
    stmt: Any,
    keys: Sequence[SortKey],
    limit: int,
    max_queries: MaxQueries,
    *,
    scalars: bool,
) -> tuple[list[Any], int]:
    """Follow next_cursor to the end; each page must cost exactly one query."""
    seen: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        with max_queries(1):
            page: Page[Any] = await keyset_page(session, stmt, keys, limit=limit, cursor=cursor, scalars=scalars)
        pages += 1
        assert len(page.items) <= limit
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen, pages
        assert len(page.items) == limit  # only a full page can have a next one
        cursor = page.next_cursor
        assert pages <= ROW_COUNT + 1, "pagination does not terminate"


ORDERS: dict[str, list[tuple[str, bool]]] = {
    "id_asc": [("id", False)],
    "id_desc": [("id", True)],
    "grp_asc": [("grp", False), ("id", False)],
    "grp_desc_id_desc": [("grp", True), ("id", True)],
    "mixed_three": [("grp", True), ("created_at", False), ("id", True)],
    "created_desc_id_asc": [("created_at", True), ("id", False)],
    "name_asc_id_desc": [("name", False), ("id", True)],
    "price_desc_decimal": [("price", True), ("id", False)],
    "day_date_mixed": [("day", False), ("grp", True), ("name", False), ("id", False)],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
@pytest.mark.parametrize("limit", [1, 7, 20, 100])
async def test_walks_every_row_exactly_once_in_order(
    session: AsyncSession,
    table_rows: list[dict[str, Any]],
    assert_max_queries: MaxQueries,
    order: list[tuple[str, bool]],
    limit: int,
) -> None:
    keys = [SortKey(c[name], descending=desc) for name, desc in order]
    seen, pages = await walk(session, select(rows_table), keys, limit, assert_max_queries, scalars=False)

    ids = [row.id for row in seen]
    assert len(ids) == len(set(ids)) == ROW_COUNT
    assert ids == [row["id"] for row in expected_order(table_rows, order)]
    assert pages == -(-ROW_COUNT // limit)  # ceil: no trailing empty page


async def test_filters_are_kept_across_pages(
    session: AsyncSession, table_rows: list[dict[str, Any]], assert_max_queries: MaxQueries
) -> None:
    stmt = select(rows_table).where(c.grp != 2)
    order = [("created_at", True), ("id", True)]
    keys = [SortKey(c.created_at, descending=True), SortKey(c.id, descending=True)]
    seen, _ = await walk(session, stmt, keys, 5, assert_max_queries, scalars=False)
    expected = expected_order([r for r in table_rows if r["grp"] != 2], order)
    assert [r.id for r in seen] == [r["id"] for r in expected]


async def test_orm_entities_with_scalars(session: AsyncSession, assert_max_queries: MaxQueries) -> None:
    codes = sorted(code for code in list_currencies() if len(code) == 3)[:45]
    for code in codes:
        session.add(Currency(code=code, name=f"Currency {code}", exponent=exponent(code), is_enabled=True))
    await session.flush()
    everything = (await session.execute(select(Currency))).scalars().all()
    assert len(everything) >= len(codes)

    keys = [SortKey(Currency.exponent, descending=True), SortKey(Currency.code)]
    seen, _ = await walk(session, select(Currency), keys, 8, assert_max_queries, scalars=True)
    assert all(isinstance(row, Currency) for row in seen)
    expected = expected_order(everything, [("exponent", True), ("code", False)])
    assert [r.code for r in seen] == [r.code for r in expected]


async def test_stable_under_concurrent_inserts(
    session: AsyncSession, table_rows: list[dict[str, Any]], assert_max_queries: MaxQueries
) -> None:
    keys = [SortKey(c.id)]
    first = await keyset_page(session, select(rows_table), keys, limit=10, scalars=False)
    assert first.next_cursor is not None
    # One row lands before the cursor (must never show up), one after it (must show up once).
    before, after = uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)
    template = {"grp": 0, "created_at": datetime.now(UTC), "name": "new", "price": Decimal("1.00"),
                "day": date(2024, 1, 1)}
    await session.execute(insert(rows_table), [{**template, "id": before}, {**template, "id": after}])

    seen = list(first.items)
    cursor: str | None = first.next_cursor
    while cursor:
        page = await keyset_page(session, select(rows_table), keys, limit=10, cursor=cursor, scalars=False)
        seen.extend(page.items)
        cursor = page.next_cursor
    ids = [r.id for r in seen]
    assert len(ids) == len(set(ids)) == ROW_COUNT + 1
    assert ids[-1] == after
    assert before not in ids
    assert ids == sorted(ids)


async def test_limit_is_clamped(session: AsyncSession, table_rows: list[dict[str, Any]]) -> None:
    page = await keyset_page(session, select(rows_table), [SortKey(c.id)], limit=0, scalars=False)
    assert len(page.items) == 1
    page = await keyset_page(session, select(rows_table), [SortKey(c.id)], limit=10_000, scalars=False)
    assert len(page.items) == ROW_COUNT
    assert page.next_cursor is None


async def test_empty_table(session: AsyncSession, table_rows: list[dict[str, Any]]) -> None:
    page = await keyset_page(
        session, select(rows_table).where(c.grp > 100), [SortKey(c.id)], limit=5, scalars=False
    )
    assert page.items == []
    assert page.next_cursor is None


@pytest.mark.parametrize(
    ("keys", "values"),
    [
        ([c.name, c.id], ["a-name", "not-a-uuid"]),  # wrong type in the unique key
        ([c.name, c.id], [5, uuid.uuid4()]),  # an int where the column is text
        ([c.name, c.id], [datetime.now(UTC), uuid.uuid4()]),
        ([c.name, c.id], ["a-name"]),  # too short
        ([c.name, c.id], ["a-name", uuid.uuid4(), 3]),  # too long
        # Right types, values PostgreSQL or the driver cannot take (found by the API fuzz test):
        ([c.name, c.id], ["a\x00b", uuid.uuid4()]),  # NUL in text
        ([c.grp, c.id], [2**63, uuid.uuid4()]),  # beyond int64
        ([c.price, c.id], [Decimal("1e200000"), uuid.uuid4()]),  # beyond numeric
        ([c.price, c.id], [Decimal("1e-20000"), uuid.uuid4()]),
        ([c.created_at, c.id], [datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), uuid.uuid4()]),
    ],
)
async def test_a_cursor_of_the_wrong_shape_is_refused_before_the_database(
    session: AsyncSession, table_rows: list[dict[str, Any]], assert_max_queries: MaxQueries,
    keys: list[Any], values: list[Any],
) -> None:
    keys = [SortKey(column) for column in keys]
    with assert_max_queries(0), pytest.raises(InvalidCursor):
        await keyset_page(session, select(rows_table), keys, cursor=encode_cursor(values), scalars=False)
    # The transaction is intact: the bad cursor never reached PostgreSQL.
    assert (await session.execute(select(func.count()).select_from(rows_table))).scalar_one() == ROW_COUNT


async def test_a_cursor_from_another_list_is_refused(session: AsyncSession, table_rows: list[dict[str, Any]]) -> None:
    by_name = [SortKey(c.name), SortKey(c.id)]
    by_day = [SortKey(c.day), SortKey(c.id)]
    page = await keyset_page(session, select(rows_table), by_name, limit=3, scalars=False)
    assert page.next_cursor is not None
    with pytest.raises(InvalidCursor):
        await keyset_page(session, select(rows_table), by_day, cursor=page.next_cursor, scalars=False)


async def test_tampered_cursor_over_http_is_422_not_500(client: httpx.AsyncClient, staff_token: str) -> None:
    headers = {"authorization": f"Bearer {staff_token}"}
    for cursor in (encode_cursor([5]), encode_cursor([{"x": 1}]), "garbage!", encode_cursor([uuid.uuid4()])):
        response = await client.get("/admin/channels", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "pagination.invalid_cursor"
