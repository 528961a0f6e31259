"""Streaming readers for import files: byte chunks in, batches of (row number, raw row) out.

Memory stays bounded by one batch: the bytes are decoded incrementally and split into lines, and
CSV records are assembled from lines by quote parity (with the default dialect a newline ends a
record exactly when the record so far holds an even number of `"`), so a quoted field spanning
lines is handed to the `csv` module whole. A file that is not what its format says (not UTF-8, no
header, unknown columns, an unterminated quote) raises `FileFormatError`, which fails the job; a
bad row is only that row's error.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from mercato.modules.catalog.import_rows import FIXED_COLUMNS, PREFIXES

MAX_RECORD_CHARS = 1 << 20
REQUIRED_COLUMNS = ("product_slug", "product_name", "sku")


class FileFormatError(Exception):
    """The file as a whole cannot be read; the message is shown on the job."""


@dataclass(frozen=True)
class RawRow:
    row: int
    values: dict[str, Any] | None  # None: unreadable, see `error`
    error: str | None = None
    field: str = "row"


async def lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Text lines with their "\\n" (the last one may lack it); a UTF-8 BOM is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    consumed = 0
    async for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"The file is not UTF-8 text (byte {consumed + exc.start}).") from None
        consumed += len(chunk)
        if not text:
            continue
        parts = (pending + text).split("\n")
        pending = parts.pop()
        if len(pending) > MAX_RECORD_CHARS:
            raise FileFormatError(f"A line is longer than {MAX_RECORD_CHARS} characters.")
        for part in parts:
            yield part + "\n"
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileFormatError("The file is not UTF-8 text (it ends inside a character).") from None
    if pending:
        yield pending


async def csv_records(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Whole CSV records (one or more physical lines each)."""
    parts: list[str] = []
    size = 0
    quotes = 0
    async for line in lines(chunks):
        parts.append(line)
        size += len(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield "".join(parts)
            parts, size, quotes = [], 0, 0
        elif size > MAX_RECORD_CHARS:
            raise FileFormatError("A quoted field is never closed (or a record is longer than 1 MB).")
    if parts:
        raise FileFormatError("The file ends inside a quoted field.")


def check_header(columns: list[str]) -> list[str]:
    columns = [c.strip() for c in columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileFormatError(f"The header lacks the column(s) {', '.join(missing)}; the first line must name "
                              "the columns (product_slug, product_name, sku, ...).")
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise FileFormatError(f"The column {column!r} appears twice in the header.")
        seen.add(column)
        if column not in FIXED_COLUMNS and not column.startswith(PREFIXES):
            raise FileFormatError(f"Unknown column {column[:100]!r} in the header.")
    return columns


class CsvRows:
    """Rows of a CSV file as {column: text}; `columns` is known after the first batch is read."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self.records = csv_records(chunks)
        self.columns: list[str] = []

    async def read_header(self) -> list[str]:
        async for record in self.records:
            if record.strip():
                self.columns = check_header(_parse(record))
                return self.columns
        raise FileFormatError("The file is empty: expected a header line naming the columns.")

    async def batches(self, size: int) -> AsyncIterator[list[RawRow]]:
        batch: list[RawRow] = []
        row = 0
        width = len(self.columns)
        async for record in self.records:
            if not record.strip():
                continue
            row += 1
            try:
                cells = _parse(record)
            except csv.Error as exc:
                batch.append(RawRow(row, None, f"Not a CSV record: {exc}."))
            else:
                if len(cells) != width:
                    batch.append(RawRow(row, None, f"Expected {width} fields, found {len(cells)}."))
                else:
                    batch.append(RawRow(row, dict(zip(self.columns, cells, strict=True))))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def _parse(record: str) -> list[str]:
    rows = list(csv.reader([record]))
    if len(rows) != 1:
        raise csv.Error("one record expected")
    return rows[0]


async def jsonl_batches(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[list[RawRow]]:
    """Rows of a JSON Lines file; a row's number is its line number, blank lines are skipped."""
    batch: list[RawRow] = []
    number = 0
    async for line in lines(chunks):
        number += 1
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            batch.append(RawRow(number, None, f"Not JSON: {str(exc)[:200]}"))
        else:
            if isinstance(value, dict):
                batch.append(RawRow(number, value))
            else:
                batch.append(RawRow(number, None, "Expected a JSON object."))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
