"""The import row format: export → parse gives the same record; streaming CSV/JSONL readers."""

from __future__ import annotations

import asyncio
import csv
import io
import string
from collections.abc import AsyncIterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.modules.catalog.attribute_rules import AttributeDef
from mercato.modules.catalog.import_files import CsvRows, FileFormatError, jsonl_batches
from mercato.modules.catalog.import_rows import (
    ProductFields,
    Record,
    VariantFields,
    check_attributes,
    header,
    parse_row,
    to_row,
)

DEFS = {
    "material": AttributeDef("material", "select", False, frozenset({"cotton", "wool"}), None),
    "colours": AttributeDef("colours", "multiselect", False, frozenset({"red", "blue", "green"}), None),
    "width": AttributeDef("width", "number", False, frozenset(), "cm"),
    "washable": AttributeDef("washable", "boolean", False, frozenset(), None),
    "note": AttributeDef("note", "text", False, frozenset(), None),
}

slugs = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}", fullmatch=True)
words = st.text(alphabet=string.ascii_letters + string.digits + " ,\"'\n<>&éü€", min_size=1, max_size=30).map(
    str.strip).filter(bool)
tags = st.lists(st.text(alphabet=string.ascii_lowercase + " -", min_size=1, max_size=10).map(str.strip).filter(bool),
                max_size=3, unique=True).map(tuple)
amounts = st.integers(min_value=0, max_value=10**12)
attributes = st.fixed_dictionaries({}, optional={
    "material": st.sampled_from(["cotton", "wool"]),
    "colours": st.lists(st.sampled_from(["red", "blue", "green"]), min_size=1, max_size=3, unique=True),
    "width": st.one_of(st.integers(0, 1000), st.floats(0, 1000, allow_nan=False).map(lambda f: round(f, 2))).map(
        lambda n: {"value": n, "unit": "cm"}),
    "washable": st.booleans(),
    "note": words,
})


@st.composite
def records(draw: st.DrawFn) -> Record:
    prices = draw(st.dictionaries(st.sampled_from(["web-eu", "web-us"]),
                                  st.tuples(amounts, st.one_of(st.none(), amounts)), max_size=2))
    min_q = draw(st.integers(1, 10))
    product = ProductFields(
        slug=draw(slugs), name=draw(words), description=draw(st.sampled_from(["", "<p>Soft</p>", "<b>x</b> y"])),
        status=draw(st.sampled_from([None, "draft", "published"])), brand=draw(st.one_of(st.none(), slugs)),
        category=draw(st.one_of(st.none(), slugs)), product_type=draw(st.one_of(st.none(), slugs)), tags=draw(tags),
        attributes=draw(attributes),
    )
    variant = VariantFields(
        sku=draw(st.from_regex(r"[A-Z0-9][A-Z0-9._-]{0,20}", fullmatch=True)), name=draw(words),
        options=draw(st.dictionaries(st.sampled_from(["size", "colour"]), words, max_size=2)),
        gtin=draw(st.one_of(st.none(), st.from_regex(r"[0-9]{13}", fullmatch=True))),
        weight_grams=draw(st.one_of(st.none(), st.integers(0, 100_000))),
        tax_class=draw(st.sampled_from(["standard", "reduced"])), track_inventory=draw(st.booleans()),
        min_quantity=min_q, max_quantity=draw(st.one_of(st.none(), st.integers(min_q, 100))), prices=prices,
    )
    return Record(7, product, variant)


def _through_csv(row: dict[str, str]) -> dict[str, str]:
    columns = header(list(DEFS), ["colour", "size"], ["web-eu", "web-us"])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerow({c: row.get(c, "") for c in columns})
    return next(csv.DictReader(io.StringIO(out.getvalue())))


@settings(max_examples=300, deadline=None)
@given(records())
def test_csv_round_trip(record: Record) -> None:
    parsed, errors = parse_row(_through_csv(to_row(record, csv=True, types=DEFS)), 7)
    assert errors == []
    assert parsed is not None
    checked, errors = check_attributes(parsed, list(DEFS.values()))
    assert errors == []
    assert checked == record


@settings(max_examples=300, deadline=None)
@given(records())
def test_jsonl_round_trip(record: Record) -> None:
    parsed, errors = parse_row(orjson.loads(orjson.dumps(to_row(record, csv=False))), 7)
    assert errors == []
    assert parsed is not None
    checked, errors = check_attributes(parsed, list(DEFS.values()))
    assert (checked, errors) == (record, [])


def test_every_bad_field_is_reported_and_the_row_is_dropped() -> None:
    record, errors = parse_row({
        "product_slug": "Not A Slug", "product_name": "", "sku": "has space", "status": "archived",
        "price.web-eu": "19.99", "compare_at.web-us": "100", "max_quantity": "0", "gtin": "12", "tags": "a;" + "b" * 60,
        "bogus": "x", "track_inventory": "maybe", "weight_grams": "-1",
    }, 3)
    assert record is None
    assert sorted(e.field for e in errors) == sorted([
        "bogus", "product_slug", "product_name", "status", "tags", "sku", "gtin", "weight_grams", "track_inventory",
        "max_quantity", "price.web-eu", "compare_at.web-us",
    ])
    assert all(e.row == 3 for e in errors)


def test_nul_characters_are_refused() -> None:
    record, errors = parse_row({"product_slug": "a", "product_name": "A\x00", "sku": "S"}, 1)
    assert record is None
    assert [e.field for e in errors] == ["product_name"]


def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i:i + size]

    return gen()


async def _csv(data: bytes, size: int) -> list[tuple[int, dict[str, str] | None, str | None]]:
    rows = CsvRows(_chunks(data, size))
    await rows.read_header()
    return [(r.row, r.values, r.error) async for batch in rows.batches(2) for r in batch]


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40))
def test_csv_records_survive_any_chunking(size: int) -> None:
    data = ('\ufeffproduct_slug,product_name,sku\r\na,"Multi\r\nline, ""quoted"" é",S1\r\n\r\nb,B,S2\r\n'
            'c,C\n').encode()
    got = asyncio.run(_csv(data, size))
    assert got == [
        (1, {"product_slug": "a", "product_name": 'Multi\r\nline, "quoted" é', "sku": "S1"}, None),
        (2, {"product_slug": "b", "product_name": "B", "sku": "S2"}, None),
        (3, None, "Expected 3 fields, found 2."),
    ]


def test_unreadable_files() -> None:
    for data, message in [(b"", "empty"), (b"a,b\n", "lacks"), (b"product_slug,product_name,sku,sku\n", "twice"),
                          (b"product_slug,product_name,sku,colour\n", "Unknown column"),
                          (b"product_slug,product_name,sku\n\xff\n", "UTF-8"),
                          (b'product_slug,product_name,sku\n"open,b,c\n', "quoted")]:
        with pytest.raises(FileFormatError, match=message):
            asyncio.run(_csv(data, 7))


def test_jsonl_lines_are_rows_by_line_number() -> None:
    async def read() -> list[tuple[int, str | None]]:
        data = b'{"a": 1}\n\nnot json\n[1]\n{"b": 2}'
        return [(r.row, r.error) async for batch in jsonl_batches(_chunks(data, 3), 10) for r in batch]

    rows = asyncio.run(read())
    assert [row for row, _ in rows] == [1, 3, 4, 5]
    assert rows[0][1] is None
    assert rows[1][1] is not None
    assert rows[2][1] == "Expected a JSON object."
