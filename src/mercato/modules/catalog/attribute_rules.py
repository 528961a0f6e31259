"""Pure validation of product attribute values against the attribute definitions of a product type.

No I/O: callers load the definitions (attributes_admin.definitions_for) and check that referenced
products exist themselves."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nh3

from mercato.kit.errors import FieldError

TEXT_MAX = 1000
RICH_TEXT_MAX = 20_000
# Option lists double as "one of" sets; a value may only be a short string.
OPTION_TYPES = frozenset({"select", "swatch", "multiselect"})


@dataclass(frozen=True)
class AttributeDef:
    code: str
    type: str
    required: bool
    options: frozenset[str]
    unit: str | None


def check_values(
    defs: Sequence[AttributeDef], values: Mapping[str, Any], *, field: str = "attributes"
) -> tuple[dict[str, Any], list[FieldError]]:
    """Normalise `values` ({code: value}) for the given definitions.

    Returns (normalised values, errors). A value of None counts as absent, so it is dropped from the result
    and fails a required attribute. Error codes: unknown, required, invalid (wrong type/shape), too_long,
    not_allowed (option outside the attribute's options)."""
    by_code = {d.code: d for d in defs}
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for code in sorted(values, key=str):
        path = f"{field}.{code}"
        definition = by_code.get(code)
        if definition is None:
            errors.append(FieldError(path, "unknown", f"{code!r} is not an attribute of this product type."))
            continue
        raw = values[code]
        if raw is None:
            continue
        value, error = _check_one(definition, raw, path)
        if error is not None:
            errors.append(error)
        else:
            out[code] = value
    for d in defs:
        if d.required and values.get(d.code) is None:
            errors.append(FieldError(f"{field}.{d.code}", "required", f"{d.code!r} is required."))
    return out, errors


def _check_one(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    checker = _CHECKERS.get(d.type)
    if checker is None:
        return None, FieldError(path, "invalid", f"Attribute type {d.type!r} is not supported.")
    return checker(d, raw, path)


def _invalid(path: str, message: str) -> tuple[Any, FieldError]:
    return None, FieldError(path, "invalid", message)


def _text(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, str):
        return _invalid(path, "Expected a string.")
    if len(raw) > TEXT_MAX:
        return None, FieldError(path, "too_long", f"At most {TEXT_MAX} characters.")
    return raw, None


def _rich_text(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, str):
        return _invalid(path, "Expected an HTML string.")
    if len(raw) > RICH_TEXT_MAX:
        return None, FieldError(path, "too_long", f"At most {RICH_TEXT_MAX} characters.")
    return nh3.clean(raw), None


def _is_number(raw: Any) -> bool:
    # bool is an int subclass; a JSON true is not a quantity.
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return False
    return math.isfinite(raw)


def _number(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if isinstance(raw, Mapping):
        if set(raw) - {"value", "unit"} or "value" not in raw:
            return _invalid(path, 'Expected {"value": number, "unit"?: string}.')
        number, unit = raw["value"], raw.get("unit")
        if unit is not None and not isinstance(unit, str):
            return _invalid(path, "unit must be a string.")
        if unit is not None and d.unit is not None and unit != d.unit:
            return None, FieldError(path, "not_allowed", f"The unit of {d.code!r} is {d.unit!r}.")
    else:
        number, unit = raw, None
    if not _is_number(number):
        return _invalid(path, "Expected a finite number.")
    result: dict[str, Any] = {"value": number}
    if unit or d.unit:
        result["unit"] = unit or d.unit
    return result, None


def _boolean(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, bool):
        return _invalid(path, "Expected true or false.")
    return raw, None


def _date(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, str) or len(raw) != 10:
        return _invalid(path, "Expected a date as YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(raw).isoformat(), None
    except ValueError:
        return _invalid(path, "Expected a date as YYYY-MM-DD.")


def _select(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, str):
        return _invalid(path, "Expected one option value (a string).")
    if raw not in d.options:
        return None, FieldError(path, "not_allowed", f"{raw!r} is not an option of {d.code!r}.")
    return raw, None


def _multiselect(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        return _invalid(path, "Expected a list of option values.")
    unknown = [v for v in raw if v not in d.options]
    if unknown:
        return None, FieldError(path, "not_allowed", f"{unknown[0]!r} is not an option of {d.code!r}.")
    # Keep the client's order, drop repeats: the order is how the storefront shows them.
    return list(dict.fromkeys(raw)), None


def _reference(d: AttributeDef, raw: Any, path: str) -> tuple[Any, FieldError | None]:
    if not isinstance(raw, str):
        return _invalid(path, "Expected a product id.")
    try:
        return str(uuid.UUID(raw)), None
    except ValueError:
        return _invalid(path, "Expected a product id (UUID).")


_CHECKERS = {
    "text": _text,
    "rich_text": _rich_text,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "select": _select,
    "swatch": _select,
    "multiselect": _multiselect,
    "reference": _reference,
}
