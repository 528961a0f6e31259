"""Pure catalogue rules: the publishing workflow and the difference between two product states."""

from __future__ import annotations

from typing import Any, Literal

Status = Literal["draft", "in_review", "published", "archived"]
Action = Literal["submit", "approve", "reject", "publish", "unpublish", "archive", "restore"]

# action -> (statuses it may start from, status it leads to, permission it needs)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "submit": (frozenset({"draft"}), "in_review", "catalog:write"),
    "approve": (frozenset({"in_review"}), "published", "catalog:publish"),
    "reject": (frozenset({"in_review"}), "draft", "catalog:publish"),
    "publish": (frozenset({"draft", "in_review"}), "published", "catalog:publish"),
    "unpublish": (frozenset({"published"}), "draft", "catalog:publish"),
    "archive": (frozenset({"draft", "in_review", "published"}), "archived", "catalog:publish"),
    "restore": (frozenset({"archived"}), "draft", "catalog:publish"),
}


def next_status(current: str, action: str) -> str | None:
    """The status `action` leads to from `current`, or None when the workflow does not allow it."""
    rule = TRANSITIONS.get(action)
    if rule is None or current not in rule[0]:
        return None
    return rule[1]


def permission_for(action: str) -> str:
    return TRANSITIONS[action][2]


def diff(before: dict[str, Any] | None, after: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Field-level changes from `before` to `after` as {"path": {"from": old, "to": new}}.

    Nested objects are walked ("attributes.colour"); lists of objects that carry an "id" (variants,
    prices) are matched by id ("variants[<sku or id>].name"), so reordering is not a change."""
    before = before or {}
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted(set(before) | set(after)):
        path = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes.update(diff(old, new, f"{path}."))
        elif isinstance(old, list) and isinstance(new, list) and _is_keyed_list(old) and _is_keyed_list(new):
            changes.update(_diff_keyed(old, new, path))
        else:
            changes[path] = {"from": old, "to": new}
    return changes


def _is_keyed_list(value: list[Any]) -> bool:
    return all(isinstance(item, dict) and "id" in item for item in value)


def _label(item: dict[str, Any]) -> str:
    return str(item.get("sku") or item.get("channel") or item["id"])


def _diff_keyed(old: list[dict[str, Any]], new: list[dict[str, Any]], path: str) -> dict[str, dict[str, Any]]:
    olds = {str(item["id"]): item for item in old}
    news = {str(item["id"]): item for item in new}
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted(set(olds) | set(news)):
        before, after = olds.get(key), news.get(key)
        label = _label(after or before or {"id": key})
        if before is None:
            changes[f"{path}[{label}]"] = {"from": None, "to": after}
        elif after is None:
            changes[f"{path}[{label}]"] = {"from": before, "to": None}
        else:
            changes.update(diff(before, after, f"{path}[{label}]."))
    return changes
