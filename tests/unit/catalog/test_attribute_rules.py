"""Attribute value validation against product type definitions."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.catalog.attribute_rules import TEXT_MAX, AttributeDef, check_values


def d(code: str, type_: str, *, required: bool = False, options: tuple[str, ...] = (), unit: str | None = None
      ) -> AttributeDef:
    return AttributeDef(code=code, type=type_, required=required, options=frozenset(options), unit=unit)


COLOUR = d("colour", "select", options=("red", "blue"))
SIZES = d("sizes", "multiselect", options=("s", "m", "l"))


def codes(errors: list[Any]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in errors]


def test_unknown_code_is_reported_with_its_path() -> None:
    values, errors = check_values([COLOUR], {"weight": 3}, field="body.attributes")
    assert values == {}
    assert codes(errors) == [("body.attributes.weight", "unknown")]


def test_missing_and_null_required_values_are_reported() -> None:
    defs = [d("material", "text", required=True)]
    assert codes(check_values(defs, {})[1]) == [("attributes.material", "required")]
    assert codes(check_values(defs, {"material": None})[1]) == [("attributes.material", "required")]
    assert check_values(defs, {"material": "wool"}) == ({"material": "wool"}, [])


def test_text_limits() -> None:
    t = [d("note", "text")]
    assert check_values(t, {"note": "x" * TEXT_MAX})[1] == []
    assert codes(check_values(t, {"note": "x" * (TEXT_MAX + 1)})[1]) == [("attributes.note", "too_long")]
    assert codes(check_values(t, {"note": 5})[1]) == [("attributes.note", "invalid")]


def test_rich_text_is_sanitised() -> None:
    values, errors = check_values([d("care", "rich_text")], {"care": "<p>Wash</p><script>alert(1)</script>"})
    assert errors == []
    assert values["care"] == "<p>Wash</p>"


@pytest.mark.parametrize("raw", [True, False, "3", math.nan, math.inf, -math.inf, {"value": True},
                                 {"value": 1, "extra": 2}, {"unit": "cm"}, [1]])
def test_number_rejects_non_numbers(raw: Any) -> None:
    _, errors = check_values([d("width", "number", unit="cm")], {"width": raw})
    assert codes(errors) == [("attributes.width", "invalid")]


def test_number_normalises_to_value_and_unit() -> None:
    defs = [d("width", "number", unit="cm")]
    assert check_values(defs, {"width": 3})[0] == {"width": {"value": 3, "unit": "cm"}}
    assert check_values(defs, {"width": {"value": 2.5, "unit": "cm"}})[0] == {"width": {"value": 2.5, "unit": "cm"}}
    assert codes(check_values(defs, {"width": {"value": 2, "unit": "mm"}})[1]) == [("attributes.width", "not_allowed")]
    assert check_values([d("count", "number")], {"count": 7})[0] == {"count": {"value": 7}}


def test_boolean_and_date() -> None:
    defs = [d("organic", "boolean"), d("since", "date")]
    assert check_values(defs, {"organic": True, "since": "2024-02-29"}) == (
        {"organic": True, "since": "2024-02-29"}, [])
    _, errors = check_values(defs, {"organic": 1, "since": "2023-02-29"})
    assert codes(errors) == [("attributes.organic", "invalid"), ("attributes.since", "invalid")]
    assert codes(check_values(defs, {"since": "2024-02-29T10:00:00"})[1]) == [("attributes.since", "invalid")]


def test_select_swatch_and_multiselect_options() -> None:
    swatch = d("shade", "swatch", options=("navy",))
    assert check_values([COLOUR, swatch], {"colour": "red", "shade": "navy"})[1] == []
    _, errors = check_values([COLOUR, swatch], {"colour": "green", "shade": ["navy"]})
    assert codes(errors) == [("attributes.colour", "not_allowed"), ("attributes.shade", "invalid")]
    assert check_values([SIZES], {"sizes": ["m", "s", "m"]})[0] == {"sizes": ["m", "s"]}
    assert codes(check_values([SIZES], {"sizes": ["xl"]})[1]) == [("attributes.sizes", "not_allowed")]
    assert codes(check_values([SIZES], {"sizes": "m"})[1]) == [("attributes.sizes", "invalid")]


def test_reference_must_be_a_uuid() -> None:
    ref = [d("related", "reference")]
    pid = uuid.uuid4()
    assert check_values(ref, {"related": str(pid).upper()})[0] == {"related": str(pid)}
    assert codes(check_values(ref, {"related": "not-a-uuid"})[1]) == [("attributes.related", "invalid")]


@given(st.lists(st.sampled_from(["s", "m", "l"]), max_size=12))
def test_multiselect_dedup_keeps_first_order_and_every_value(picked: list[str]) -> None:
    values, errors = check_values([SIZES], {"sizes": picked})
    assert errors == []
    out = values["sizes"]
    assert len(out) == len(set(out))
    assert set(out) == set(picked)
    assert out == sorted(set(picked), key=picked.index)


@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=5), st.none()))
def test_number_accepts_exactly_finite_non_bool_numbers(raw: Any) -> None:
    values, errors = check_values([d("n", "number")], {"n": raw})
    ok = raw is None or (isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw))
    assert (errors == []) is ok
    if ok and raw is not None:
        assert values == {"n": {"value": raw}}


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=6))
def test_result_only_holds_known_codes_and_every_unknown_is_reported(values: dict[str, str]) -> None:
    defs = [d("note", "text"), COLOUR]
    out, errors = check_values(defs, values)
    assert set(out) <= {"note", "colour"}
    unknown = {c for c in values if c not in {"note", "colour"}}
    assert {e.field for e in errors if e.code == "unknown"} == {f"attributes.{c}" for c in unknown}
