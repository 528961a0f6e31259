"""The bulk import/export row format, and pure parsing/validation of one row (no I/O).

One row per variant; a product's rows share `product_slug` and repeat its product fields. CSV
headers and JSON Lines keys are the same names:

    product_slug, product_name, description, status, brand, category, product_type, tags,
    attr.<code>..., sku, variant_name, option.<name>..., gtin, weight_grams, tax_class,
    track_inventory, min_quantity, max_quantity, price.<channel code>..., compare_at.<channel code>...

- `status`: draft or published. Blank keeps an existing product's status (a new product is a draft).
- `brand`, `category`, `product_type`: slugs of existing rows (blank: none).
- `tags`: ";"-separated in CSV, a list of strings in JSON Lines.
- `attr.<code>`: attribute values, checked against the product type's definitions
  (attribute_rules.check_values). In CSV a multiselect is ";"-separated, a number is "12.5" or
  "12.5 cm", a boolean true/false; in JSON Lines the values are JSON (as stored).
- `price.<channel>`, `compare_at.<channel>`: integer minor units (1999 = 19.99 EUR). The row's
  prices replace the variant's unscheduled prices: a channel left blank has no base price after
  the import (scheduled prices, with valid_from/valid_to, are never touched).
- Every other blank cell means "no value" (null, empty list or the column's default).

A JSON Lines value may also be a string in the CSV spelling ("true", "1999"), so files converted
from CSV need no type work. `parse_row` validates everything that needs no database; the
importer resolves slugs, channels and attribute definitions and calls `check_attributes`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nh3

from mercato.modules.catalog.attribute_rules import AttributeDef, check_values

PRODUCT_COLUMNS = ("product_slug", "product_name", "description", "status", "brand", "category", "product_type",
                   "tags")
VARIANT_COLUMNS = ("sku", "variant_name")
VARIANT_TAIL_COLUMNS = ("gtin", "weight_grams", "tax_class", "track_inventory", "min_quantity", "max_quantity")
FIXED_COLUMNS = frozenset(PRODUCT_COLUMNS + VARIANT_COLUMNS + VARIANT_TAIL_COLUMNS)
PREFIXES = ("attr.", "option.", "price.", "compare_at.")
IMPORT_STATUSES = ("draft", "published")

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/#+-]*$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_INT = re.compile(r"^[+-]?[0-9]+$")
_GTIN_LENGTHS = (8, 12, 13, 14)
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
MAX_INT = 2_147_483_647
MAX_AMOUNT = 9_223_372_036_854_775_807


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row (the CSV header is not a row; in JSON Lines the line number)
    field: str
    message: str


@dataclass(frozen=True)
class ProductFields:
    slug: str
    name: str
    description: str
    status: str | None  # None: keep (new products: draft)
    brand: str | None
    category: str | None
    product_type: str | None
    tags: tuple[str, ...]
    attributes: dict[str, Any] = field(hash=False)  # raw until check_attributes, then normalised


@dataclass(frozen=True)
class VariantFields:
    sku: str
    name: str
    options: dict[str, str] = field(hash=False)
    gtin: str | None = None
    weight_grams: int | None = None
    tax_class: str = "standard"
    track_inventory: bool = True
    min_quantity: int = 1
    max_quantity: int | None = None
    # channel code -> (amount, compare_at_amount)
    prices: dict[str, tuple[int, int | None]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Record:
    row: int
    product: ProductFields
    variant: VariantFields


class _Row:
    """Collects a row's errors while reading its cells."""

    def __init__(self, raw: Mapping[str, Any], row: int) -> None:
        self.raw = raw
        self.row = row
        self.errors: list[RowError] = []

    def fail(self, name: str, message: str) -> None:
        self.errors.append(RowError(self.row, name, message))

    def text(self, name: str, *, max_len: int, required: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(name, "Expected a string.")
                return None
            value = str(value)
        value = value.strip()
        if "\x00" in value:
            self.fail(name, "NUL characters are not allowed.")
            return None
        if not value:
            if required:
                self.fail(name, "Required.")
            return None
        if len(value) > max_len:
            self.fail(name, f"At most {max_len} characters.")
            return None
        return value

    def slug(self, name: str, *, required: bool = False) -> str | None:
        value = self.text(name, max_len=200, required=required)
        if value is not None and not _SLUG.fullmatch(value):
            self.fail(name, f"{value!r} is not a slug (lowercase letters, digits and single hyphens).")
            return None
        return value

    def integer(self, name: str, *, minimum: int, maximum: int = MAX_INT, what: str = "a whole number") -> int | None:
        value = self.raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT.fullmatch(value.strip()):
            number = int(value.strip())
        if number is None:
            self.fail(name, f"Expected {what}, got {str(value)[:40]!r}.")
            return None
        if number < minimum or number > maximum:
            self.fail(name, f"Must be between {minimum} and {maximum}.")
            return None
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return True
        if isinstance(value, str) and value.strip().lower() in _FALSE:
            return False
        self.fail(name, "Expected true or false.")
        return default


def parse_row(raw: Mapping[str, Any], row: int) -> tuple[Record | None, list[RowError]]:
    """Validate one row (a CSV record as {column: text} or a JSON Lines object). Returns the record
    (None when any field is invalid: a row is applied whole or not at all) and its errors."""
    r = _Row(raw, row)
    plan = _plan(tuple(raw))
    for column in plan.unknown:
        r.fail(column, "Unknown column.")
    slug = r.slug("product_slug", required=True)
    name = r.text("product_name", max_len=300, required=True)
    description = r.text("description", max_len=100_000) or ""
    status = r.text("status", max_len=12)
    if status is not None and status not in IMPORT_STATUSES:
        r.fail("status", f"Expected one of {', '.join(IMPORT_STATUSES)}.")
    brand = r.slug("brand")
    category = r.slug("category")
    product_type = r.slug("product_type")
    tags = _tags(r)
    attributes = {key[5:]: _attribute_raw(r, key) for key in plan.attributes}
    attributes = {code: value for code, value in attributes.items() if value is not None}

    sku = r.text("sku", max_len=64, required=True)
    if sku is not None and not _SKU.fullmatch(sku):
        r.fail("sku", "Letters, digits and . _ / # + - only, starting with a letter or digit.")
    variant_name: str | None = r.text("variant_name", max_len=300) or name
    options: dict[str, str] = {}
    for key in plan.options:
        option = r.text(key, max_len=100)
        if option is not None:
            options[key[7:]] = option
    gtin = r.text("gtin", max_len=14)
    if gtin is not None and not (gtin.isdigit() and len(gtin) in _GTIN_LENGTHS):
        r.fail("gtin", "Expected 8, 12, 13 or 14 digits.")
    weight = r.integer("weight_grams", minimum=0)
    tax_class = r.text("tax_class", max_len=20) or "standard"
    if not _CODE.fullmatch(tax_class):
        r.fail("tax_class", "Lowercase letters, digits, _ and - only.")
    track = r.boolean("track_inventory", True)
    min_q = r.integer("min_quantity", minimum=1)
    max_q = r.integer("max_quantity", minimum=1)
    if min_q is not None and max_q is not None and max_q < min_q:
        r.fail("max_quantity", "Must not be below min_quantity.")
    prices = _prices(r, plan)
    if r.errors:
        return None, r.errors
    if slug is None or name is None or sku is None:  # unreachable: required fields add errors
        return None, [RowError(row, "row", "Required fields are missing.")]
    product = ProductFields(slug=slug, name=name, description=_clean(description), status=status, brand=brand,
                            category=category, product_type=product_type, tags=tags, attributes=attributes)
    variant = VariantFields(sku=sku, name=variant_name or name, options=options, gtin=gtin, weight_grams=weight,
                            tax_class=tax_class, track_inventory=track, min_quantity=min_q or 1,
                            max_quantity=max_q, prices=prices)
    return Record(row, product, variant), []


@dataclass(frozen=True)
class _Plan:
    """What each column of a row is (rows of one file share their columns, so this is cached)."""

    unknown: tuple[str, ...]
    attributes: tuple[str, ...]
    options: tuple[str, ...]
    prices: tuple[str, ...]
    compare_at: tuple[str, ...]


@functools.lru_cache(maxsize=256)
def _plan(columns: tuple[Any, ...]) -> _Plan:
    names = [c for c in columns if isinstance(c, str)]
    return _Plan(
        unknown=tuple(str(c)[:100] for c in columns
                      if not isinstance(c, str) or (c not in FIXED_COLUMNS and not _dynamic_column(c))),
        attributes=tuple(c for c in names if c.startswith("attr.")),
        options=tuple(c for c in names if c.startswith("option.")),
        prices=tuple(c for c in names if c.startswith("price.")),
        compare_at=tuple(c for c in names if c.startswith("compare_at.")),
    )


@functools.lru_cache(maxsize=1024)
def _clean(description: str) -> str:
    # A product's rows repeat its description; sanitising it once per product is enough.
    return nh3.clean(description)


def _dynamic_column(name: str) -> bool:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix):]
            return 0 < len(rest) <= 50 and bool(_CODE.fullmatch(rest))
    return False


def _tags(r: _Row) -> tuple[str, ...]:
    value = r.raw.get("tags")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(";")
    elif isinstance(value, list):
        items = value
    else:
        r.fail("tags", "Expected tags separated by ';' (a list in JSON Lines).")
        return ()
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            r.fail("tags", "Tags are strings.")
            return ()
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > 50 or ";" in tag or "\x00" in tag:
            r.fail("tags", f"Tag {tag[:60]!r}: at most 50 characters, no ';'.")
            return ()
        tags.append(tag)
    return tuple(dict.fromkeys(tags))


def _attribute_raw(r: _Row, key: str) -> Any:
    value = r.raw.get(key)
    if isinstance(value, str):
        value = value.strip()
        if "\x00" in value:
            r.fail(key, "NUL characters are not allowed.")
            return None
        return value or None
    return value


def _prices(r: _Row, plan: _Plan) -> dict[str, tuple[int, int | None]]:
    prices: dict[str, tuple[int, int | None]] = {}
    compare: dict[str, int] = {}
    invalid: set[str] = set()
    what = "a price in minor units (1999 for 19.99)"
    for key in plan.prices:
        before = len(r.errors)
        amount = r.integer(key, minimum=0, maximum=MAX_AMOUNT, what=what)
        if amount is not None:
            prices[key[6:]] = (amount, None)
        elif len(r.errors) > before:
            invalid.add(key[6:])
    for key in plan.compare_at:
        amount = r.integer(key, minimum=0, maximum=MAX_AMOUNT, what=what)
        if amount is not None:
            compare[key[11:]] = amount
    for channel, amount in compare.items():
        if channel in invalid:
            continue  # the price's own error says it
        if channel not in prices:
            r.fail(f"compare_at.{channel}", f"A compare-at price needs a price in {channel!r}.")
        else:
            prices[channel] = (prices[channel][0], amount)
    return prices


# ---- attributes (need the product type's definitions) -------------------------------------------


def check_attributes(record: Record, defs: Sequence[AttributeDef]) -> tuple[Record | None, list[RowError]]:
    """Coerce CSV spellings to the attribute types and validate; the record with normalised values."""
    by_code = {d.code: d for d in defs}
    coerced = {code: _coerce(by_code.get(code), value) for code, value in record.product.attributes.items()}
    values, errors = check_values(defs, coerced, field="attr")
    if errors:
        return None, [RowError(record.row, e.field, e.message) for e in errors]
    return dataclasses.replace(record, product=dataclasses.replace(record.product, attributes=values)), []


def _coerce(definition: AttributeDef | None, value: Any) -> Any:
    if definition is None or not isinstance(value, str):
        return value
    kind = definition.type
    if kind == "multiselect":
        return [item.strip() for item in value.split(";") if item.strip()]
    if kind == "boolean":
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else value
    if kind == "number":
        number, _, unit = value.partition(" ")
        parsed = _number(number)
        if parsed is None:
            return value
        return {"value": parsed, "unit": unit.strip()} if unit.strip() else parsed
    return value


def _number(text: str) -> int | float | None:
    if _INT.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# ---- writing rows (export) --------------------------------------------------------------------


def header(attribute_codes: Sequence[str], option_names: Sequence[str], channels: Sequence[str]) -> list[str]:
    """CSV column order: product fields, attributes, variant fields, options, prices."""
    return [
        *PRODUCT_COLUMNS, *(f"attr.{c}" for c in attribute_codes), *VARIANT_COLUMNS,
        *(f"option.{o}" for o in option_names), *VARIANT_TAIL_COLUMNS,
        *(f"price.{c}" for c in channels), *(f"compare_at.{c}" for c in channels),
    ]


def to_row(record: Record, *, csv: bool, types: Mapping[str, AttributeDef] | None = None) -> dict[str, Any]:
    """The row that `parse_row` reads back as `record` (CSV: every value a string; JSON Lines: JSON
    values). `types` gives attribute types for the CSV spellings."""
    p, v = record.product, record.variant
    row: dict[str, Any] = {
        "product_slug": p.slug, "product_name": p.name, "description": p.description, "status": p.status,
        "brand": p.brand, "category": p.category, "product_type": p.product_type,
        "tags": ";".join(p.tags) if csv else list(p.tags),
    }
    for code, value in p.attributes.items():
        row[f"attr.{code}"] = _attribute_text(value, (types or {}).get(code)) if csv else value
    row.update({"sku": v.sku, "variant_name": v.name})
    for option, value in v.options.items():
        row[f"option.{option}"] = value
    row.update({
        "gtin": v.gtin, "weight_grams": v.weight_grams, "tax_class": v.tax_class,
        "track_inventory": v.track_inventory, "min_quantity": v.min_quantity, "max_quantity": v.max_quantity,
    })
    for channel, (amount, compare_at) in v.prices.items():
        row[f"price.{channel}"] = amount
        if compare_at is not None:
            row[f"compare_at.{channel}"] = compare_at
    if csv:
        return {key: _cell(value) for key, value in row.items()}
    return {key: value for key, value in row.items() if value is not None}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _attribute_text(value: Any, definition: AttributeDef | None) -> str:
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if isinstance(value, dict) and "value" in value:
        unit = value.get("unit")
        number = _cell(value["value"])
        return number if not unit or (definition is not None and unit == definition.unit) else f"{number} {unit}"
    return _cell(value)
