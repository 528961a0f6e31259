"""inventory.rules: bucket quotas, reservation plans and FEFO picks keep their invariants for any input."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.inventory.rules import (
    Candidate,
    Lot,
    allowance,
    available,
    distance_km,
    fefo,
    plan,
    split_quota,
)

W1, W2, W3 = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
A, B = uuid.UUID(int=10), uuid.UUID(int=11)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _stock(n: int) -> uuid.UUID:
    return uuid.UUID(int=1000 + n)


@given(st.integers(-1000, 10_000), st.lists(st.integers(0, 500), min_size=1, max_size=64))
def test_quotas_hand_out_exactly_the_free_units_and_never_less_than_promised(free: int, used: list[int]) -> None:
    quotas = split_quota(free, used)
    assert len(quotas) == len(used)
    assert sum(quotas) - sum(used) == max(0, free)
    assert all(q >= u for q, u in zip(quotas, used, strict=True))
    shares = [q - u for q, u in zip(quotas, used, strict=True)]
    assert max(shares) - min(shares) <= 1  # spread evenly, so concurrent buyers find room in any bucket


def test_no_buckets_no_quotas() -> None:
    assert split_quota(5, []) == []


def test_available_subtracts_every_promise_and_the_safety_stock() -> None:
    assert available(on_hand=10, reserved=3, allocated=2, safety_stock=1) == 4
    assert available(on_hand=1, reserved=3, allocated=0, safety_stock=0) == -2


def test_preorders_count_until_release_and_backorders_always() -> None:
    assert allowance(backorder_limit=5, preorder_cap=20, preorder_release_at=NOW + timedelta(days=1), now=NOW) == 25
    assert allowance(backorder_limit=5, preorder_cap=20, preorder_release_at=NOW, now=NOW) == 5
    assert allowance(backorder_limit=0, preorder_cap=20, preorder_release_at=None, now=NOW) == 0


candidates_st = st.lists(
    st.tuples(st.sampled_from([W1, W2, W3]), st.sampled_from([A, B]), st.integers(0, 30), st.integers(0, 5)),
    max_size=6, unique_by=lambda t: (t[0], t[1]),
).map(lambda rows: [Candidate(_stock(i), v, w, prio, free) for i, (w, v, free, prio) in enumerate(rows)])
lines_st = st.dictionaries(st.sampled_from([A, B]), st.integers(1, 60), min_size=1)


@given(lines_st, candidates_st, st.sampled_from(["priority", "nearest", "fewest_splits"]))
def test_a_plan_never_takes_more_than_is_free_or_wanted(lines: dict[uuid.UUID, int], candidates: list[Candidate],
                                                        strategy: str) -> None:
    takes, shortages = plan(lines, candidates, strategy=strategy, destination=(52.5, 13.4))
    by_stock = {c.stock_id: c for c in candidates}
    for stock_id in {t.stock_id for t in takes}:
        assert sum(t.quantity for t in takes if t.stock_id == stock_id) <= by_stock[stock_id].free
    for variant, wanted in lines.items():
        taken = sum(t.quantity for t in takes if t.variant_id == variant)
        free = sum(c.free for c in candidates if c.variant_id == variant)
        assert taken == min(wanted, free)  # whatever the strategy, everything free is found
        short = [s for s in shortages if s.variant_id == variant]
        assert bool(short) == (free < wanted)
    assert all(t.quantity > 0 and by_stock[t.stock_id].variant_id == t.variant_id for t in takes)


def test_priority_takes_from_the_lowest_number_first() -> None:
    cands = [Candidate(_stock(1), A, W1, 5, 10), Candidate(_stock(2), A, W2, 1, 3)]
    takes, _ = plan({A: 5}, cands, strategy="priority")
    assert [(t.warehouse_id, t.quantity) for t in takes] == [(W2, 3), (W1, 2)]


def test_nearest_takes_from_the_closest_warehouse() -> None:
    berlin, newark = (52.52, 13.40), (40.73, -74.17)
    cands = [Candidate(_stock(1), A, W1, 1, 10, *berlin), Candidate(_stock(2), A, W2, 9, 10, *newark)]
    takes, _ = plan({A: 2}, cands, strategy="nearest", destination=(48.85, 2.35))  # Paris
    assert [t.warehouse_id for t in takes] == [W1]
    takes, _ = plan({A: 2}, cands, strategy="nearest", destination=(41.88, -87.63))  # Chicago
    assert [t.warehouse_id for t in takes] == [W2]


def test_fewest_splits_prefers_one_warehouse_that_ships_everything() -> None:
    cands = [Candidate(_stock(1), A, W1, 1, 5), Candidate(_stock(2), B, W2, 1, 5),
             Candidate(_stock(3), A, W3, 9, 5), Candidate(_stock(4), B, W3, 9, 5)]
    takes, shortages = plan({A: 2, B: 2}, cands, strategy="fewest_splits")
    assert not shortages
    assert {t.warehouse_id for t in takes} == {W3}
    priority, _ = plan({A: 2, B: 2}, cands, strategy="priority")
    assert {t.warehouse_id for t in priority} == {W1, W2}


def test_distance_is_the_great_circle() -> None:
    assert 870 < distance_km((52.52, 13.40), (48.85, 2.35)) < 890  # Berlin–Paris


lots_st = st.lists(st.tuples(st.integers(-5, 5), st.integers(0, 10)), max_size=6)


@given(lots_st, st.integers(1, 40))
def test_fefo_takes_unexpired_lots_first_expiring_first(raw: list[tuple[int, int]], quantity: int) -> None:
    today = date(2026, 6, 1)
    lots = [Lot(uuid.UUID(int=i + 1), today + timedelta(days=d), free) for i, (d, free) in enumerate(raw)]
    picks, left = fefo(lots, quantity, today)
    by_id = {lot.lot_id: lot for lot in lots}
    assert sum(q for _, q in picks) + left == quantity
    assert all(by_id[i].expires_on >= today and 0 < q <= by_id[i].free for i, q in picks)  # type: ignore[operator]
    usable = sum(lot.free for lot in lots if lot.expires_on is not None and lot.expires_on >= today)
    assert left == max(0, quantity - usable)
    expiries = [by_id[i].expires_on for i, _ in picks]
    assert expiries == sorted(expiries)  # type: ignore[type-var]
    if picks:  # every lot expiring before the last one picked was emptied
        last = by_id[picks[-1][0]].expires_on
        taken = dict(picks)
        assert all(taken.get(lot.lot_id, 0) == lot.free for lot in lots
                   if lot.expires_on is not None and today <= lot.expires_on < last)  # type: ignore[operator]


def test_lots_without_expiry_go_last() -> None:
    lots = [Lot(uuid.UUID(int=1), None, 5), Lot(uuid.UUID(int=2), date(2030, 1, 1), 5)]
    picks, _ = fefo(lots, 6, date(2026, 1, 1))
    assert picks == [(uuid.UUID(int=2), 5), (uuid.UUID(int=1), 1)]
