"""ETags: If-Match guards writes (412 when stale), If-None-Match lets GETs answer 304."""

from __future__ import annotations

import pytest

from mercato.kit.errors import PreconditionFailed
from mercato.kit.etag import check_if_match, etag_for, matches_if_none_match

CURRENT = etag_for("product", "0b6c3f", 7)
STALE = etag_for("product", "0b6c3f", 6)


def test_etag_is_strong_quoted_and_stable() -> None:
    assert CURRENT.startswith('"')
    assert CURRENT.endswith('"')
    assert not CURRENT.startswith("W/")
    assert len(CURRENT) == 34
    assert etag_for("product", "0b6c3f", 7) == CURRENT
    assert CURRENT != STALE
    # Parts are separated, so ("ab", "c") and ("a", "bc") differ.
    assert etag_for("ab", "c") != etag_for("a", "bc")


@pytest.mark.parametrize(
    "if_match",
    [
        None,
        "*",
        CURRENT,
        f"  {CURRENT}  ",
        f"{STALE}, {CURRENT}",
        f"{STALE},{CURRENT},{etag_for('x')}",
        f"W/{CURRENT}",
        f"{STALE}, W/{CURRENT}",
        f"{STALE}, *",
    ],
)
def test_if_match_accepts(if_match: str | None) -> None:
    check_if_match(if_match, CURRENT)


@pytest.mark.parametrize(
    "if_match",
    [STALE, f"W/{STALE}", f"{STALE}, {etag_for('x')}", CURRENT.strip('"'), '""', "", ","],
)
def test_if_match_refuses_a_stale_tag(if_match: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        check_if_match(if_match, CURRENT)
    assert info.value.code == "precondition.stale"


@pytest.mark.parametrize(
    ("if_none_match", "not_modified"),
    [
        (None, False),
        ("*", True),
        (CURRENT, True),
        (f"W/{CURRENT}", True),  # If-None-Match uses weak comparison
        (f"{STALE}, {CURRENT}", True),
        (STALE, False),
        (f"{STALE}, W/{STALE}", False),
        ("", False),
    ],
)
def test_if_none_match(if_none_match: str | None, not_modified: bool) -> None:
    assert matches_if_none_match(if_none_match, CURRENT) is not_modified
