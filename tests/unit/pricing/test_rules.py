"""pricing.rules.unit_price: which entry wins, and the invariants that hold for any input."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.pricing.rules import Candidate, unit_price

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SALE, VIP, OTHER = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
GOLD = uuid.UUID(int=100)


def test_no_candidates_is_the_base_price() -> None:
    result = unit_price(1000, [], 3, NOW)
    assert (result.amount, result.source, result.price_list_id) == (1000, "base", None)
    assert "no price list" in result.explanation


def test_highest_tier_not_above_the_quantity_wins_within_a_list() -> None:
    tiers = [Candidate(SALE, 900, 1), Candidate(SALE, 800, 10), Candidate(SALE, 700, 50)]
    assert unit_price(1000, tiers, 9, NOW).amount == 900
    assert unit_price(1000, tiers, 10, NOW).amount == 800
    result = unit_price(1000, tiers, 500, NOW)
    assert (result.amount, result.min_quantity, result.source) == (700, 50, "price_list")
    assert "tier from 50 units" in result.explanation


def test_a_tier_above_the_quantity_does_not_apply() -> None:
    assert unit_price(1000, [Candidate(SALE, 500, 5)], 4, NOW).amount == 1000


def test_priority_beats_amount_between_lists() -> None:
    cheap = Candidate(SALE, 500, priority=0)
    preferred = Candidate(VIP, 800, priority=5)
    assert unit_price(1000, [cheap, preferred], 1, NOW).price_list_id == VIP


def test_priority_beats_a_deeper_tier_of_another_list() -> None:
    bulk = Candidate(SALE, 600, min_quantity=10, priority=0)
    contract = Candidate(VIP, 900, min_quantity=1, priority=1)
    assert unit_price(1000, [bulk, contract], 10, NOW).price_list_id == VIP


def test_equal_priority_gives_the_lower_amount_whatever_the_order() -> None:
    a, b = Candidate(SALE, 850), Candidate(VIP, 820)
    assert unit_price(1000, [a, b], 1, NOW).amount == 820
    assert unit_price(1000, [b, a], 1, NOW).amount == 820


def test_a_winning_list_may_be_above_the_base_price() -> None:
    assert unit_price(1000, [Candidate(SALE, 1200)], 1, NOW).amount == 1200


def test_window_activity_and_group_membership_decide_applicability() -> None:
    expired = Candidate(SALE, 100, valid_to=NOW)
    future = Candidate(SALE, 200, valid_from=NOW + timedelta(seconds=1))
    inactive = Candidate(SALE, 300, is_active=False)
    gold_only = Candidate(VIP, 400, customer_group_id=GOLD, price_list_name="Gold")
    assert unit_price(1000, [expired, future, inactive, gold_only], 1, NOW).amount == 1000
    member = unit_price(1000, [expired, future, inactive, gold_only], 1, NOW, groups=frozenset({GOLD}))
    assert member.amount == 400
    assert "'Gold'" in member.explanation
    assert "customer group" in member.explanation
    starts_now = Candidate(SALE, 500, valid_from=NOW, valid_to=NOW + timedelta(days=1))
    assert unit_price(1000, [starts_now], 1, NOW).amount == 500


def test_quantity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        unit_price(1000, [], 0, NOW)


candidates = st.builds(
    Candidate,
    price_list_id=st.sampled_from([SALE, VIP, OTHER]),
    amount=st.integers(0, 10**9),
    min_quantity=st.integers(1, 100),
    priority=st.integers(-3, 3),
    customer_group_id=st.sampled_from([None, GOLD]),
    valid_from=st.sampled_from([None, NOW - timedelta(days=1), NOW + timedelta(days=1)]),
    valid_to=st.sampled_from([None, NOW, NOW + timedelta(days=1)]),
    is_active=st.booleans(),
)


def _applicable(c: Candidate, quantity: int, gold: bool) -> bool:
    return (c.min_quantity <= quantity and c.is_active and (c.customer_group_id is None or gold)
            and (c.valid_from is None or c.valid_from <= NOW) and (c.valid_to is None or c.valid_to > NOW))


@given(st.integers(0, 10**9), st.lists(candidates, max_size=12), st.integers(1, 200), st.booleans())
def test_result_is_the_base_or_an_applicable_candidate(
    base: int, offered: list[Candidate], quantity: int, gold: bool
) -> None:
    offered = _as_stored(offered)
    groups = frozenset({GOLD}) if gold else frozenset()
    result = unit_price(base, offered, quantity, NOW, groups=groups)
    applicable = [c for c in offered if _applicable(c, quantity, gold)]
    assert result.base_amount == base
    if result.source == "base":
        assert result.amount == base
        assert applicable == []
    else:
        chosen = [c for c in applicable if (c.price_list_id, c.amount, c.min_quantity)
                  == (result.price_list_id, result.amount, result.min_quantity)]
        assert chosen, "the price comes from an applicable entry that was offered"
        assert max(c.priority for c in applicable) == max(c.priority for c in chosen)


def _as_stored(offered: list[Candidate]) -> list[Candidate]:
    """What the database can hold: one entry per (list, min_quantity), list settings shared by its entries."""
    first: dict[uuid.UUID, Candidate] = {}
    stored: dict[tuple[uuid.UUID, int], Candidate] = {}
    for c in offered:
        head = first.setdefault(c.price_list_id, c)
        stored.setdefault((c.price_list_id, c.min_quantity), replace(
            c, priority=head.priority, customer_group_id=head.customer_group_id, valid_from=head.valid_from,
            valid_to=head.valid_to, is_active=head.is_active,
        ))
    return list(stored.values())


@given(st.integers(0, 10**6), st.lists(st.tuples(st.integers(1, 100), st.integers(0, 10**6)), min_size=1,
                                       max_size=8), st.integers(1, 300), st.integers(1, 300))
def test_one_list_with_falling_tiers_never_charges_more_for_more(
    base: int, raw: list[tuple[int, int]], q1: int, q2: int
) -> None:
    """Tiers whose amounts fall as min_quantity rises: once a tier applies, buying more never
    raises the unit price (the base price may be lower than the first tier: that is the list's call)."""
    mins = sorted({m for m, _ in raw})
    amounts = sorted((a for _, a in raw), reverse=True)[: len(mins)]
    tiers = [Candidate(SALE, amount, m) for m, amount in zip(mins, amounts, strict=True)]
    low, high = sorted((q1, q2))
    at_low, at_high = unit_price(base, tiers, low, NOW), unit_price(base, tiers, high, NOW)
    if at_low.source == "price_list":
        assert at_high.source == "price_list"
        assert at_high.amount <= at_low.amount
    if at_high.source == "base":
        assert at_low.source == "base"


@given(st.integers(0, 10**6), st.lists(candidates, max_size=10), st.integers(1, 200), st.randoms(), st.booleans())
def test_the_answer_does_not_depend_on_the_order_of_candidates(
    base: int, offered: list[Candidate], quantity: int, rnd: Random, gold: bool
) -> None:
    stored = _as_stored(offered)
    shuffled = list(stored)
    rnd.shuffle(shuffled)
    groups = frozenset({GOLD}) if gold else frozenset()
    assert unit_price(base, stored, quantity, NOW, groups=groups) == unit_price(base, shuffled, quantity, NOW,
                                                                                 groups=groups)
