"""Payment status mapping and the scrubbing of secrets from stored gateway answers."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.payments.rules import PAYMENT_STATUSES, REDACTED, payment_status, scrub


def test_gateway_answers_map_to_payment_statuses() -> None:
    assert payment_status("authorized") == "authorized"
    assert payment_status("requires_action") == "requires_action"
    assert payment_status("declined") == "declined"
    assert payment_status("error") == "failed"
    for status in ("authorized", "declined", "requires_action", "error", "captured", "voided", "refunded"):
        assert payment_status(status) in PAYMENT_STATUSES


def test_scrub_removes_secret_keys_at_any_depth() -> None:
    raw = {"id": "ch_1", "token": "tok_visa", "source": {"card": {"number": "4242"}, "cvc": "123"},
           "items": [{"client_secret": "x", "ok": 1}]}
    assert scrub(raw) == {"id": "ch_1", "token": REDACTED, "source": {"card": REDACTED, "cvc": REDACTED},
                          "items": [{"client_secret": REDACTED, "ok": 1}]}


def test_scrub_replaces_the_token_wherever_it_is_echoed() -> None:
    raw = {"message": "token tok_live_abc was refused", "list": ["tok_live_abc"], "n": 5}
    assert scrub(raw, frozenset({"tok_live_abc"})) == {"message": f"token {REDACTED} was refused",
                                                       "list": [REDACTED], "n": 5}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.text(min_size=6, max_size=12))
def test_a_scrubbed_value_never_contains_the_secret(value: Any, secret: str) -> None:
    planted = {"payload": value, "echo": f"x{secret}y", "nested": [{"note": secret}]}
    assert secret not in repr(scrub(planted, frozenset({secret})))
