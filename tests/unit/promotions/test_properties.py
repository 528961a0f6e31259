"""Invariants of promotions.rules that hold for any cart and any set of promotions (hypothesis):
no discount exceeds what it discounts, no line goes negative, every cap holds, allocations add up,
the stacking order is deterministic and independent of input order."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TypeVar

from hypothesis import event, given, settings
from hypothesis import strategies as st

from mercato.modules.promotions.rules import (
    PPM,
    Benefit,
    Bundle,
    BundleItem,
    BuyXGetY,
    CodeState,
    DiscountCap,
    FixedAmount,
    FixedPrice,
    FreeShipping,
    Percentage,
    PromoCart,
    PromoLine,
    PromoResult,
    Promotion,
    Targets,
    Tier,
    Tiered,
    allocate,
    evaluate,
    percent_of,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CHANNEL = uuid.UUID(int=1)
PRODUCTS = [uuid.UUID(int=100 + i) for i in range(4)]
PATHS = [None, "r", "r/a", "r/a/b", "r/c"]
COLLECTIONS = [uuid.UUID(int=200 + i) for i in range(2)]
BRANDS = [uuid.UUID(int=300 + i) for i in range(2)]
GROUP = uuid.UUID(int=400)
T = TypeVar("T")

rates = st.integers(min_value=1, max_value=PPM)


def rarely(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """None three times in four: conditions and caps that are set on every promotion would leave
    little for the invariants to check."""
    return st.integers(0, 3).flatmap(lambda k: strategy if k == 0 else st.none())

amounts = st.integers(min_value=0, max_value=6000)


@st.composite
def lines(draw: st.DrawFn) -> list[PromoLine]:
    count = draw(st.integers(min_value=0, max_value=6))
    made = []
    for i in range(count):
        quantity = draw(st.integers(min_value=1, max_value=5))
        price = draw(st.integers(min_value=0, max_value=5000))
        made.append(PromoLine(
            key=f"l{i}", variant_id=uuid.UUID(int=1000 + i), product_id=draw(st.sampled_from(PRODUCTS)),
            quantity=quantity, unit_price=price, subtotal=price * quantity,
            category_path=draw(st.sampled_from(PATHS)),
            collection_ids=frozenset(draw(st.sets(st.sampled_from(COLLECTIONS)))),
            brand_id=draw(st.sampled_from([None, *BRANDS])),
        ))
    return made


benefits: st.SearchStrategy[Benefit] = st.one_of(
    st.builds(Percentage, rates),
    st.builds(FixedAmount, amounts, st.sampled_from(["unit", "line", "order"])),
    st.builds(FixedPrice, amounts),
    st.builds(BuyXGetY, st.integers(1, 3), st.integers(1, 2), rates, st.none() | st.integers(1, 3)),
    st.lists(st.tuples(st.integers(0, 20000), amounts), min_size=1, max_size=3, unique_by=lambda t: t[0]).map(
        lambda tiers: Tiered(tuple(Tier(t, a) for t, a in sorted(tiers)))),
    st.just(FreeShipping()),
    st.builds(Bundle, st.lists(st.builds(BundleItem, st.sampled_from(PRODUCTS), st.integers(1, 2)), min_size=1,
                               max_size=3, unique_by=lambda i: i.product_id).map(tuple), amounts),
)

targets = st.one_of(
    st.just(Targets()),
    st.just(Targets()),
    st.builds(Targets, product_ids=st.frozensets(st.sampled_from(PRODUCTS), max_size=2),
              category_paths=st.frozensets(st.sampled_from(["r", "r/a", "r/c"]), max_size=2),
              collection_ids=st.frozensets(st.sampled_from(COLLECTIONS), max_size=1),
              brand_ids=st.frozensets(st.sampled_from(BRANDS), max_size=1),
              excluded_product_ids=st.frozensets(st.sampled_from(PRODUCTS), max_size=1),
              excluded_category_paths=st.frozensets(st.sampled_from(["r/a/b", "r/c"]), max_size=1)),
)


@st.composite
def promotions(draw: st.DrawFn) -> list[Promotion]:
    numbers = draw(st.lists(st.integers(1, 50), min_size=1, max_size=6, unique=True))
    made = []
    for n in numbers:
        budget = draw(rarely(st.integers(0, 5000)))
        coupon = draw(st.booleans())
        made.append(Promotion(
            id=uuid.UUID(int=10_000 + n), name=f"P{n}", benefit=draw(benefits),
            trigger="coupon" if coupon else "automatic",
            codes={f"C{n}": CodeState(f"C{n}")} if coupon else {},
            priority=draw(st.integers(0, 3)), exclusive=draw(rarely(st.just(True))) is not None,
            stackable=draw(rarely(st.just(False))) is None, targets=draw(targets),
            min_subtotal=draw(rarely(st.integers(0, 8000))), min_quantity=draw(rarely(st.integers(1, 6))),
            customer_group_ids=frozenset({GROUP}) if draw(rarely(st.just(True))) else frozenset(),
            starts_at=draw(rarely(st.sampled_from([NOW - timedelta(days=1), NOW + timedelta(days=1)]))),
            budget=budget, spent=draw(st.integers(0, budget)) if budget is not None else 0,
            max_discount_amount=draw(rarely(amounts)), max_discount_ppm=draw(rarely(rates)),
        ))
    return made


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[PromoCart, list[Promotion], frozenset[str], DiscountCap | None]:
    cart = PromoCart.of(draw(lines()), currency="EUR", channel_id=CHANNEL,
                        customer_group_ids=frozenset({GROUP}) if draw(st.booleans()) else frozenset(),
                        shipping_amount=draw(st.integers(0, 1000)))
    promos = draw(promotions())
    owned = [code for p in promos for code in p.codes]
    codes = frozenset([c for c in owned if draw(st.integers(0, 3))]
                      + draw(st.lists(st.sampled_from(["NOPE", "c1", "C1"]), max_size=2)))
    cap = draw(rarely(st.builds(DiscountCap, st.none() | amounts, st.none() | rates)))
    return cart, promos, codes, cap


def _by_promotion(result: PromoResult) -> dict[uuid.UUID, int]:
    totals: dict[uuid.UUID, int] = defaultdict(int)
    for adjustments in result.line_adjustments.values():
        for adjustment in adjustments:
            totals[adjustment.promotion_id] += adjustment.amount
    return totals


Scenario = tuple[PromoCart, list[Promotion], frozenset[str], DiscountCap | None]


@settings(max_examples=500)
@given(scenarios())
def test_invariants(scenario: Scenario) -> None:
    cart, promos, codes, cap = scenario
    result = evaluate(cart, promos, codes=codes, now=NOW, max_total_discount=cap)
    event(f"{len(result.applied)} applied")
    event("some line discounted" if result.discount_total else "nothing off the lines")
    _no_discount_exceeds_what_it_discounts(cart, result)
    _every_cap_holds_and_every_amount_is_explained(cart, promos, cap, result)
    _stacking_order_and_flags(promos, codes, result)


def _no_discount_exceeds_what_it_discounts(cart: PromoCart, result: PromoResult) -> None:
    assert set(result.line_adjustments) == {line.key for line in cart.lines}
    for line in cart.lines:
        adjustments = result.line_adjustments[line.key]
        assert all(a.amount > 0 for a in adjustments)
        assert sum(a.amount for a in adjustments) <= line.subtotal  # no negative line
    assert result.discount_total <= cart.subtotal
    assert 0 <= result.shipping_discount <= cart.shipping_amount
    assert result.free_shipping == bool(result.shipping_adjustments)
    if result.free_shipping:
        assert result.shipping_discount == cart.shipping_amount


def _every_cap_holds_and_every_amount_is_explained(
    cart: PromoCart, promos: list[Promotion], cap: DiscountCap | None, result: PromoResult
) -> None:
    by_id = {p.id: p for p in promos}
    on_lines = _by_promotion(result)
    on_shipping = {a.promotion_id: a.amount for a in result.shipping_adjustments}
    for applied in result.applied:
        promotion = by_id[applied.promotion_id]
        lines_part = on_lines.get(applied.promotion_id, 0)
        assert applied.amount == lines_part + on_shipping.get(applied.promotion_id, 0)
        if promotion.max_discount_amount is not None:
            assert lines_part <= promotion.max_discount_amount
        if promotion.max_discount_ppm is not None:
            assert lines_part <= cart.subtotal * promotion.max_discount_ppm // PPM
        if promotion.budget is not None:
            assert applied.amount <= promotion.budget - promotion.spent
    for order in result.order_adjustments:  # an order discount is exactly the sum of its line shares
        assert order.amount == on_lines[order.promotion_id] > 0
    assert set(on_lines) <= set(result.applied_promotion_ids)
    if cap is not None:
        limits = [x for x in (cap.amount, cart.subtotal * cap.rate_ppm // PPM if cap.rate_ppm else None)
                  if x is not None]
        if limits:
            assert result.discount_total <= min(limits)


def _stacking_order_and_flags(promos: list[Promotion], codes: frozenset[str], result: PromoResult) -> None:
    by_id = {p.id: p for p in promos}
    applied = [by_id[a.promotion_id] for a in result.applied]
    keys = [(-p.priority, p.id) for p in applied]
    assert keys == sorted(keys)  # priority descending, then id
    assert len(set(keys)) == len(keys)
    if any(p.exclusive for p in applied):
        assert len(applied) == 1
    assert sum(1 for p in applied if not p.stackable) <= 1
    # Each code the cart carries is either applied or refused with a reason, never both.
    applied_codes = set(result.applied_codes)
    assert applied_codes.isdisjoint(result.rejections)
    assert applied_codes | set(result.rejections) == {c.upper() for c in codes}
    # Adjustments on a line come in stacking order.
    for adjustments in result.line_adjustments.values():
        order = [result.applied_promotion_ids.index(a.promotion_id) for a in adjustments]
        assert order == sorted(order)


@settings(max_examples=200)
@given(scenarios(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(scenario: Scenario, rnd: object) -> None:
    cart, promos, codes, cap = scenario
    shuffled_lines = list(cart.lines)
    rnd.shuffle(shuffled_lines)  # type: ignore[attr-defined]
    shuffled_promos = list(promos)
    rnd.shuffle(shuffled_promos)  # type: ignore[attr-defined]
    first = evaluate(cart, promos, codes=codes, now=NOW, max_total_discount=cap)
    again = evaluate(replace(cart, lines=tuple(shuffled_lines)), shuffled_promos, codes=codes, now=NOW,
                     max_total_discount=cap)
    assert dict(first.line_adjustments) == dict(again.line_adjustments)
    assert (first.order_adjustments, first.shipping_adjustments, first.applied, dict(first.rejections)) == \
        (again.order_adjustments, again.shipping_adjustments, again.applied, dict(again.rejections))


@given(lines(), rates)
def test_a_lone_percentage_is_the_rounded_share_of_the_subtotal(items: list[PromoLine], rate: int) -> None:
    cart = PromoCart.of(items, currency="EUR", channel_id=CHANNEL)
    promotion = Promotion(id=uuid.UUID(int=1), name="P", benefit=Percentage(rate))
    assert evaluate(cart, [promotion], codes=frozenset(), now=NOW).discount_total == percent_of(cart.subtotal, rate)


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_allocation_adds_up_and_stays_within_each_weight(total: int, weights: list[int]) -> None:
    total = min(total, sum(weights))
    shares = allocate(total, weights)
    assert sum(shares) == total
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert 0 <= share <= weight
        if whole:
            assert abs(Fraction(share) - Fraction(total * weight, whole)) < 1  # largest remainder: off by < 1
    assert allocate(total, weights) == shares
