"""The publishing workflow table and the revision diff."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.catalog import rules

STATUSES = ("draft", "in_review", "published", "archived")

EXPECTED = {
    ("draft", "submit"): "in_review",
    ("in_review", "approve"): "published",
    ("in_review", "reject"): "draft",
    ("draft", "publish"): "published",
    ("in_review", "publish"): "published",
    ("published", "unpublish"): "draft",
    ("draft", "archive"): "archived",
    ("in_review", "archive"): "archived",
    ("published", "archive"): "archived",
    ("archived", "restore"): "draft",
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", sorted(rules.TRANSITIONS))
def test_workflow_table(status: str, action: str) -> None:
    assert rules.next_status(status, action) == EXPECTED.get((status, action))


def test_unknown_action_goes_nowhere() -> None:
    assert rules.next_status("draft", "teleport") is None


def test_permissions() -> None:
    assert rules.permission_for("submit") == "catalog:write"
    for action in ("approve", "reject", "publish", "unpublish", "archive", "restore"):
        assert rules.permission_for(action) == "catalog:publish"


def test_diff_walks_objects_and_keyed_lists() -> None:
    before = {"name": "A", "attributes": {"colour": "red", "size": "S"},
              "variants": [{"id": "1", "sku": "X", "name": "x", "prices": [{"id": "p", "amount": 1}]},
                           {"id": "2", "sku": "Y", "name": "y"}]}
    after = {"name": "B", "attributes": {"colour": "blue", "size": "S"},
             "variants": [{"id": "3", "sku": "Z", "name": "z"},
                          {"id": "1", "sku": "X", "name": "x", "prices": [{"id": "p", "amount": 2}]}]}
    assert rules.diff(before, after) == {
        "name": {"from": "A", "to": "B"},
        "attributes.colour": {"from": "red", "to": "blue"},
        "variants[X].prices[p].amount": {"from": 1, "to": 2},
        "variants[Y]": {"from": {"id": "2", "sku": "Y", "name": "y"}, "to": None},
        "variants[Z]": {"from": None, "to": {"id": "3", "sku": "Z", "name": "z"}},
    }


def test_diff_from_nothing_lists_every_field() -> None:
    assert rules.diff(None, {"a": 1}) == {"a": {"from": None, "to": 1}}


def test_reordering_a_keyed_list_is_not_a_change() -> None:
    items = [{"id": "1", "v": 1}, {"id": "2", "v": 2}]
    assert rules.diff({"x": items}, {"x": list(reversed(items))}) == {}


_keys = st.sampled_from(["name", "slug", "tags", "seo_title", "attributes", "n"])
_scalars = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans())
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)),
    max_leaves=8,
)
_docs = st.dictionaries(_keys, _values, max_size=6)


@given(_docs)
def test_diff_of_a_state_with_itself_is_empty(doc: dict[str, Any]) -> None:
    assert rules.diff(doc, doc) == {}


def _apply(doc: dict[str, Any], changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Apply dotted-path changes (the diff of dicts without keyed lists) to a copy of `doc`."""
    result: dict[str, Any] = _copy(doc)
    for path, change in changes.items():
        parts = path.split(".")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if change["to"] is None and parts[-1] in target and change["from"] is not None:
            target[parts[-1]] = None
        else:
            target[parts[-1]] = change["to"]
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _normalise(value: Any) -> Any:
    """A key holding None and a missing key are the same state to diff."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None}
    return value


@given(_docs, _docs)
def test_applying_the_changes_reproduces_the_new_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    changes = rules.diff(before, after)
    assert _normalise(_apply(before, changes)) == _normalise(after)
    for change in changes.values():
        assert change["from"] != change["to"]
