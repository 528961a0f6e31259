"""cart.rules: quantity limits, merged quantities, lifetimes, stock shortages, coupon union."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.cart import rules


def test_quantity_limits_name_the_rule_broken() -> None:
    def codes(quantity: int, *, min_quantity: int = 1, max_quantity: int | None = None) -> list[str]:
        return [e.code for e in rules.quantity_errors(quantity, min_quantity=min_quantity, max_quantity=max_quantity)]

    assert codes(1) == []
    assert codes(0) == ["too_small"]
    assert codes(-5) == ["too_small"]
    assert codes(rules.HARD_MAX_QUANTITY) == []
    assert codes(rules.HARD_MAX_QUANTITY + 1) == ["too_large"]
    assert codes(1, min_quantity=2) == ["below_minimum"]
    assert codes(6, max_quantity=5) == ["above_maximum"]
    assert rules.quantity_errors(0, min_quantity=1, max_quantity=None, field="lines.3.quantity")[0].field == \
        "lines.3.quantity"


@given(st.integers(1, 2000), st.integers(1, 2000), st.integers(1, 10), st.one_of(st.none(), st.integers(10, 3000)))
def test_merged_quantities_respect_every_limit(held: int, added: int, minimum: int, maximum: int | None) -> None:
    merged = rules.merged_quantity(held, added, min_quantity=minimum, max_quantity=maximum)
    assert merged <= rules.HARD_MAX_QUANTITY
    assert maximum is None or merged <= maximum
    assert merged >= minimum
    assert merged == min(held + added, rules.allowed_maximum(maximum)) or merged == minimum
    assert rules.quantity_errors(merged, min_quantity=minimum, max_quantity=maximum) == []


def test_customers_carts_live_longer() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.expires_at(now, customer=False) == now + timedelta(days=30)
    assert rules.expires_at(now, customer=True) == now + timedelta(days=90)


def test_stock_is_checked_only_for_tracked_variants() -> None:
    assert rules.stock_shortage(5, tracked=False, free=0) == []
    assert rules.stock_shortage(5, tracked=True, free=5) == []
    (error,) = rules.stock_shortage(6, tracked=True, free=5)
    assert (error.code, error.message) == ("insufficient_stock", "6 wanted, 5 available.")
    assert rules.stock_shortage(1, tracked=True, free=-3)[0].message == "1 wanted, 0 available."


def test_coupons_are_united_in_order_and_capped() -> None:
    assert rules.merge_coupons(["A", "B"], ["B", "C"]) == ["A", "B", "C"]
    assert len(rules.merge_coupons([f"C{i}" for i in range(4)], [f"D{i}" for i in range(4)])) == rules.MAX_COUPONS
