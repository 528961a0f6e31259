"""Pure validation of a rule-based collection's rules.

Shape: {"match": "all"|"any", "conditions": [{"field", "op", "value", "currency"?}]} where field is
"brand" | "category" (descendants included) | "tag" | "price" | "attribute.<code>". Brand and category
values are ids; price values are minor units in `currency` (any current variant price in it counts).
Whether the referenced rows exist is the caller's check (`referenced`)."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mercato.kit.errors import FieldError

MAX_CONDITIONS = 50
MAX_VALUES = 100
_ATTRIBUTE = re.compile(r"^attribute\.([a-z][a-z0-9_]{0,49})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_OPS: dict[str, frozenset[str]] = {
    "brand": frozenset({"eq", "in"}),
    "category": frozenset({"eq", "in"}),
    "tag": frozenset({"eq", "in"}),
    "price": frozenset({"gte", "lte"}),
    "attribute": frozenset({"eq", "in", "gte", "lte"}),
}


@dataclass(frozen=True)
class Referenced:
    """Rows the rules name, for the caller to check they exist."""

    brands: frozenset[uuid.UUID] = field(default_factory=frozenset)
    categories: frozenset[uuid.UUID] = field(default_factory=frozenset)
    attributes: frozenset[str] = field(default_factory=frozenset)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_rules(rules: Any, *, path: str = "rules") -> tuple[dict[str, Any], list[FieldError]]:
    """Normalised rules (ids canonical, `eq` kept as given) and every error found."""
    errors: list[FieldError] = []
    if not isinstance(rules, Mapping):
        return {}, [FieldError(path, "invalid", "Expected an object with match and conditions.")]
    unknown = set(rules) - {"match", "conditions"}
    errors += [FieldError(f"{path}.{k}", "unknown", "Not a rules field.") for k in sorted(unknown, key=str)]
    match = rules.get("match", "all")
    if match not in ("all", "any"):
        errors.append(FieldError(f"{path}.match", "invalid", 'Use "all" or "any".'))
    conditions = rules.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        errors.append(FieldError(f"{path}.conditions", "required", "At least one condition."))
        return {}, errors
    if len(conditions) > MAX_CONDITIONS:
        errors.append(FieldError(f"{path}.conditions", "too_long", f"At most {MAX_CONDITIONS} conditions."))
        return {}, errors
    out = []
    for i, condition in enumerate(conditions):
        normalised, condition_errors = _check_condition(condition, f"{path}.conditions[{i}]")
        errors += condition_errors
        out.append(normalised)
    return ({"match": match, "conditions": out} if not errors else {}), errors


def _check_condition(condition: Any, path: str) -> tuple[dict[str, Any], list[FieldError]]:
    if not isinstance(condition, Mapping):
        return {}, [FieldError(path, "invalid", "Expected an object with field, op and value.")]
    errors = [FieldError(f"{path}.{k}", "unknown", "Not a condition field.")
              for k in sorted(set(condition) - {"field", "op", "value", "currency"}, key=str)]
    name = condition.get("field")
    kind = "attribute" if isinstance(name, str) and _ATTRIBUTE.match(name) else name
    if not isinstance(kind, str) or kind not in _OPS:
        return {}, [*errors, FieldError(f"{path}.field", "invalid",
                                        "Use brand, category, tag, price or attribute.<code>.")]
    op = condition.get("op")
    if op not in _OPS[kind]:
        return {}, [*errors, FieldError(f"{path}.op", "invalid", f"{kind} takes: {', '.join(sorted(_OPS[kind]))}.")]
    value = condition.get("value")
    out: dict[str, Any] = {"field": name, "op": op}
    if op == "in" and (not isinstance(value, list) or not 0 < len(value) <= MAX_VALUES):
        return {}, [*errors, FieldError(f"{path}.value", "invalid", f"Expected a list of 1 to {MAX_VALUES} values.")]
    values: list[Any] = value if isinstance(value, list) and op == "in" else [value]
    checked: list[Any] = []
    for value_item in values:
        item, message = _check_value(kind, op, value_item)
        if message is not None:
            errors.append(FieldError(f"{path}.value", "invalid", message))
            break
        checked.append(item)
    if kind == "price":
        currency = condition.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            errors.append(FieldError(f"{path}.currency", "required", "Price conditions name an ISO 4217 currency."))
        out["currency"] = currency
    elif "currency" in condition:
        errors.append(FieldError(f"{path}.currency", "invalid", "Only price conditions have a currency."))
    out["value"] = checked if op == "in" else (checked[0] if checked else None)
    return out, errors


def _check_value(kind: str, op: str, value: Any) -> tuple[Any, str | None]:
    if kind in ("brand", "category"):
        if not isinstance(value, str):
            return None, "Expected an id."
        try:
            return str(uuid.UUID(value)), None
        except ValueError:
            return None, "Expected an id."
    if kind == "tag":
        if not isinstance(value, str) or not 0 < len(value) <= 50:
            return None, "Expected a tag (1 to 50 characters)."
        return value, None
    if kind == "price":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 2**63:
            return None, "Expected an amount in minor units (a whole number ≥ 0)."
        return value, None
    # attribute: ranges compare numbers; equality takes a string, number or boolean
    if op in ("gte", "lte"):
        return (value, None) if _is_number(value) else (None, "Expected a number.")
    if isinstance(value, str):
        return (value, None) if 0 < len(value) <= 1000 else (None, "Expected 1 to 1000 characters.")
    if isinstance(value, bool) or _is_number(value):
        return value, None
    return None, "Expected a string, number or boolean."


def referenced(rules: Mapping[str, Any]) -> Referenced:
    """The brands, categories and attribute codes valid (normalised) rules name."""
    brands: set[uuid.UUID] = set()
    categories: set[uuid.UUID] = set()
    attributes: set[str] = set()
    for condition in rules.get("conditions", []):
        name = condition["field"]
        values = condition["value"] if condition["op"] == "in" else [condition["value"]]
        if name == "brand":
            brands.update(uuid.UUID(v) for v in values)
        elif name == "category":
            categories.update(uuid.UUID(v) for v in values)
        elif name.startswith("attribute."):
            attributes.add(name.removeprefix("attribute."))
    return Referenced(frozenset(brands), frozenset(categories), frozenset(attributes))
