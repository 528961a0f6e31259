"""Validation of rule-based collection rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.catalog.collection_rules import MAX_CONDITIONS, check_rules, referenced

BRAND = str(uuid.uuid4())
CATEGORY = str(uuid.uuid4())


def fields(errors: list[Any]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in errors]


def test_valid_rules_are_normalised_and_references_collected() -> None:
    rules = {"conditions": [
        {"field": "brand", "op": "eq", "value": BRAND.upper()},
        {"field": "category", "op": "in", "value": [CATEGORY]},
        {"field": "tag", "op": "eq", "value": "sale"},
        {"field": "price", "op": "lte", "value": 2000, "currency": "EUR"},
        {"field": "attribute.colour", "op": "in", "value": ["red", "blue"]},
        {"field": "attribute.width", "op": "gte", "value": 2.5},
    ]}
    out, errors = check_rules(rules)
    assert errors == []
    assert out["match"] == "all"
    assert out["conditions"][0]["value"] == BRAND
    refs = referenced(out)
    assert refs.brands == {uuid.UUID(BRAND)}
    assert refs.categories == {uuid.UUID(CATEGORY)}
    assert refs.attributes == {"colour", "width"}


@pytest.mark.parametrize(("rules", "expected"), [
    ([], [("rules", "invalid")]),
    ({}, [("rules.conditions", "required")]),
    ({"match": "x", "conditions": [{"field": "tag", "op": "eq", "value": "a"}]}, [("rules.match", "invalid")]),
    ({"conditions": [{"field": "tag", "op": "eq", "value": "a"}], "other": 1}, [("rules.other", "unknown")]),
    ({"conditions": ["tag"]}, [("rules.conditions[0]", "invalid")]),
    ({"conditions": [{"field": "attribute.Bad", "op": "eq", "value": "a"}]},
     [("rules.conditions[0].field", "invalid")]),
    ({"conditions": [{"field": "price", "op": "eq", "value": 1, "currency": "EUR"}]},
     [("rules.conditions[0].op", "invalid")]),
    ({"conditions": [{"field": "price", "op": "gte", "value": True, "currency": "EUR"}]},
     [("rules.conditions[0].value", "invalid")]),
    ({"conditions": [{"field": "price", "op": "gte", "value": 1, "currency": "eur"}]},
     [("rules.conditions[0].currency", "required")]),
    ({"conditions": [{"field": "tag", "op": "eq", "value": "a", "currency": "EUR"}]},
     [("rules.conditions[0].currency", "invalid")]),
    ({"conditions": [{"field": "tag", "op": "in", "value": []}]}, [("rules.conditions[0].value", "invalid")]),
    ({"conditions": [{"field": "attribute.w", "op": "lte", "value": "3"}]}, [("rules.conditions[0].value", "invalid")]),
    ({"conditions": [{"field": "attribute.w", "op": "eq", "value": float("nan")}]},
     [("rules.conditions[0].value", "invalid")]),
    ({"conditions": [{"field": "category", "op": "in", "value": [CATEGORY, "x"]}]},
     [("rules.conditions[0].value", "invalid")]),
])
def test_invalid_rules(rules: Any, expected: list[tuple[str, str]]) -> None:
    out, errors = check_rules(rules)
    assert out == {}
    assert fields(errors) == expected


def test_too_many_conditions() -> None:
    rules = {"conditions": [{"field": "tag", "op": "eq", "value": "a"}] * (MAX_CONDITIONS + 1)}
    assert fields(check_rules(rules)[1]) == [("rules.conditions", "too_long")]


_condition = st.fixed_dictionaries({
    "field": st.sampled_from(["brand", "category", "tag", "price", "attribute.x", "nope", 3]),
    "op": st.sampled_from(["eq", "in", "gte", "lte", "between", None]),
    "value": st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                       st.lists(st.text(max_size=3), max_size=3)),
}, optional={"currency": st.sampled_from(["EUR", "usd", 1])})


@given(st.lists(_condition, min_size=1, max_size=5), st.sampled_from(["all", "any", "some"]))
def test_either_clean_rules_or_errors_never_both_never_a_crash(conditions: list[Any], match: str) -> None:
    out, errors = check_rules({"match": match, "conditions": conditions})
    assert (out == {}) == bool(errors)
    for e in errors:
        assert e.field.startswith("rules")
    if not errors:
        assert len(out["conditions"]) == len(conditions)
        referenced(out)  # total on anything check_rules accepted
