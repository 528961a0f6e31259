"""shipping.rules: zone matching, quotes and their invariants for any valid rate."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mercato.modules.shipping.rules import (
    KINDS,
    Area,
    MethodRates,
    Rate,
    Tier,
    ZoneCandidate,
    area_match,
    normalize_postcode,
    pick_zone,
    postcode_problems,
    quote,
    rate_problems,
    ships_from,
)

# ---------------------------------------------------------------------------------------------
# examples


def test_each_kind_prices_as_documented() -> None:
    flat = MethodRates("flat", {"EUR": Rate(amount=490)})
    assert quote(flat, subtotal=0, weight_grams=99_000, currency="EUR") == 490
    free = MethodRates("free_over", {"EUR": Rate(amount=490, free_over=5000)})
    assert [quote(free, subtotal=s, weight_grams=0, currency="EUR") for s in (4999, 5000, 9000)] == [490, 0, 0]
    weight = MethodRates("weight_tiers", {"EUR": Rate(tiers=(Tier(1000, 500), Tier(5000, 900)))})
    assert [quote(weight, subtotal=0, weight_grams=w, currency="EUR") for w in (0, 1000, 1001, 5000, 5001)] == \
        [500, 500, 900, 900, None]
    price = MethodRates("price_tiers", {"EUR": Rate(tiers=(Tier(0, 690), Tier(5000, 390), Tier(10000, 0)))})
    assert [quote(price, subtotal=s, weight_grams=0, currency="EUR") for s in (0, 4999, 5000, 10000, 10**9)] == \
        [690, 690, 390, 0, 0]


def test_a_currency_without_a_rate_is_not_available() -> None:
    flat = MethodRates("flat", {"EUR": Rate(amount=490)})
    assert quote(flat, subtotal=100, weight_grams=0, currency="USD") is None


def test_negative_carts_are_a_programming_error() -> None:
    flat = MethodRates("flat", {"EUR": Rate(amount=490)})
    with pytest.raises(ValueError, match="never negative"):
        quote(flat, subtotal=-1, weight_grams=0, currency="EUR")


def test_postcodes_compare_normalised() -> None:
    assert normalize_postcode(" sw1a 2aa ") == "SW1A2AA"
    assert normalize_postcode("94105-1234") == "941051234"
    assert normalize_postcode(None) == ""


def test_areas_match_by_country_region_prefix_and_range() -> None:
    country = Area("US")
    alaska = Area("US", region="AK")
    belfast = Area("GB", postal_prefix="BT")
    germany = Area("DE", postal_from="01000", postal_to="99999")
    assert area_match(country, country="us", region=None, postal_code=None) == (1, 0)
    assert area_match(country, country="CA", region=None, postal_code=None) is None
    assert area_match(alaska, country="US", region="ak", postal_code="99501") == (2, 0)
    assert area_match(alaska, country="US", region="US-AK", postal_code="99501") == (2, 0)
    assert area_match(alaska, country="US", region="CA", postal_code="99501") is None
    assert area_match(belfast, country="GB", region=None, postal_code="bt1 1aa") == (3, 2)
    assert area_match(belfast, country="GB", region=None, postal_code="B1 1AA") is None
    assert area_match(germany, country="DE", region=None, postal_code="10115") == (3, 5)
    assert area_match(germany, country="DE", region=None, postal_code="00999") is None
    assert area_match(germany, country="DE", region=None, postal_code="1011") is None  # too short to compare
    assert area_match(germany, country="DE", region=None, postal_code=None) is None


def _zone(code: str, *areas: Area, priority: int = 0) -> ZoneCandidate:
    return ZoneCandidate(uuid.uuid5(uuid.NAMESPACE_DNS, code), code, priority, areas)


def test_the_most_specific_zone_answers() -> None:
    gb = _zone("gb", Area("GB"))
    remote = _zone("gb-remote", Area("GB", postal_prefix="BT"), Area("GB", postal_prefix="HS"))
    birmingham = _zone("b", Area("GB", postal_prefix="B"), priority=100)
    zones = [gb, remote, birmingham]
    assert pick_zone(zones, country="GB", region=None, postal_code="SW1A 2AA") == gb
    assert pick_zone(zones, country="GB", region=None, postal_code="HS1 2AB") == remote
    # the longer prefix beats the higher priority: "B" must not swallow Belfast
    assert pick_zone(zones, country="GB", region=None, postal_code="BT1 1AA") == remote
    assert pick_zone(zones, country="GB", region=None, postal_code="B1 1AA") == birmingham
    assert pick_zone(zones, country="FR", region=None, postal_code="75001") is None


def test_between_equally_specific_zones_priority_then_code_decide() -> None:
    a, b = _zone("a", Area("DE")), _zone("b", Area("DE"))
    assert pick_zone([b, a], country="DE", region=None, postal_code=None) == a
    preferred = _zone("z", Area("DE"), priority=1)
    assert pick_zone([a, b, preferred], country="DE", region=None, postal_code=None) == preferred


def test_area_problems() -> None:
    assert postcode_problems(Area("DE", postal_from="01000", postal_to="99999")) == []
    assert [p[:2] for p in postcode_problems(Area("DE", postal_from="9", postal_to="10"))] == \
        [("postal_to", "length_mismatch")]
    assert [p[:2] for p in postcode_problems(Area("DE", postal_from="5", postal_to="4"))] == \
        [("postal_to", "before_start")]
    assert [p[:2] for p in postcode_problems(Area("DE", postal_from="5"))] == [("postal_to", "required")]
    assert [p[:2] for p in postcode_problems(Area("GB", region="X", postal_prefix="BT"))] == \
        [("postal_prefix", "not_allowed")]
    assert [p[:2] for p in postcode_problems(Area("GB", postal_prefix="B-T"))] == [("postal_prefix", "invalid")]


def test_rate_problems_name_the_field() -> None:
    assert rate_problems("flat", Rate(amount=1)) == []
    assert [p[:2] for p in rate_problems("flat", Rate())] == [("amount", "required")]
    assert [p[:2] for p in rate_problems("free_over", Rate(amount=1))] == [("free_over", "required")]
    assert [p[:2] for p in rate_problems("weight_tiers", Rate(tiers=(Tier(5, 1), Tier(5, 2))))] == \
        [("weight_tiers.1.max_grams", "not_increasing")]
    assert [p[:2] for p in rate_problems("price_tiers", Rate(tiers=(Tier(10, 1),)))] == \
        [("price_tiers.0.min_subtotal", "must_start_at_zero")]
    assert [p[:2] for p in rate_problems("price_tiers", Rate(amount=5, tiers=(Tier(0, -1),)))] == \
        [("amount", "not_allowed"), ("price_tiers.0.amount", "too_small")]
    assert [p[:2] for p in rate_problems("weight_tiers", Rate())] == [("weight_tiers", "required")]


def test_warehouses() -> None:
    berlin, newark = uuid.UUID(int=1), uuid.UUID(int=2)
    assert ships_from([], [berlin, newark])
    assert ships_from([berlin], None)
    assert ships_from([berlin], [])
    assert ships_from([berlin, newark], [berlin])
    assert not ships_from([berlin], [berlin, newark])


# ---------------------------------------------------------------------------------------------
# properties

amounts = st.integers(min_value=0, max_value=10**9)
carts = st.integers(min_value=0, max_value=10**7)


@st.composite
def ascending_tiers(draw: st.DrawFn, *, first: int | None = None, amounts_order: str = "any") -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=8)))
    if first is not None:
        bounds = sorted({first, *bounds})
    prices = draw(st.lists(amounts, min_size=len(bounds), max_size=len(bounds)))
    if amounts_order == "up":
        prices.sort()
    elif amounts_order == "down":
        prices.sort(reverse=True)
    return tuple(Tier(b, a) for b, a in zip(bounds, prices, strict=True))


@st.composite
def methods(draw: st.DrawFn) -> MethodRates:
    kind = draw(st.sampled_from(KINDS))
    if kind == "flat":
        rate = Rate(amount=draw(amounts))
    elif kind == "free_over":
        rate = Rate(amount=draw(amounts), free_over=draw(amounts))
    elif kind == "weight_tiers":
        rate = Rate(tiers=draw(ascending_tiers()))
    else:
        rate = Rate(tiers=draw(ascending_tiers(first=0)))
    method = MethodRates(kind, {"EUR": rate})
    assert rate_problems(kind, rate) == []  # the strategies draw only valid rates
    return method


@given(methods(), carts, carts)
def test_a_quote_is_never_negative_and_only_in_priced_currencies(method: MethodRates, subtotal: int,
                                                                  weight: int) -> None:
    price = quote(method, subtotal=subtotal, weight_grams=weight, currency="EUR")
    assert price is None or price >= 0
    assert quote(method, subtotal=subtotal, weight_grams=weight, currency="USD") is None
    if method.kind != "weight_tiers":
        assert price is not None  # only weight can make a priced method unavailable


@given(ascending_tiers(amounts_order="up"), carts, carts)
def test_weight_tiers_are_monotone(tiers: tuple[Tier, ...], w1: int, w2: int) -> None:
    light, heavy = sorted((w1, w2))
    method = MethodRates("weight_tiers", {"EUR": Rate(tiers=tiers)})
    p_light = quote(method, subtotal=0, weight_grams=light, currency="EUR")
    p_heavy = quote(method, subtotal=0, weight_grams=heavy, currency="EUR")
    if p_heavy is not None:
        assert p_light is not None  # lighter stays available
        assert p_light <= p_heavy  # and never costs more
    assert (p_heavy is None) == (heavy > tiers[-1].bound)


@given(ascending_tiers(first=0, amounts_order="down"), carts, carts)
def test_price_tiers_are_monotone(tiers: tuple[Tier, ...], s1: int, s2: int) -> None:
    low, high = sorted((s1, s2))
    method = MethodRates("price_tiers", {"EUR": Rate(tiers=tiers)})
    p_low = quote(method, subtotal=low, weight_grams=0, currency="EUR")
    p_high = quote(method, subtotal=high, weight_grams=0, currency="EUR")
    assert p_low is not None
    assert p_high is not None
    assert p_high <= p_low


@given(ascending_tiers(), carts)
def test_the_first_weight_tier_that_holds_the_cart_is_picked(tiers: tuple[Tier, ...], weight: int) -> None:
    method = MethodRates("weight_tiers", {"EUR": Rate(tiers=tiers)})
    expected = [t for t in tiers if weight <= t.bound]
    assert quote(method, subtotal=0, weight_grams=weight, currency="EUR") == \
        (expected[0].amount if expected else None)


@given(ascending_tiers(first=0), carts)
def test_the_last_price_tier_reached_is_picked(tiers: tuple[Tier, ...], subtotal: int) -> None:
    method = MethodRates("price_tiers", {"EUR": Rate(tiers=tiers)})
    reached = [t for t in tiers if t.bound <= subtotal]
    assert quote(method, subtotal=subtotal, weight_grams=0, currency="EUR") == reached[-1].amount


@given(amounts, amounts, carts)
def test_free_over_is_zero_at_and_above_the_threshold(amount: int, threshold: int, subtotal: int) -> None:
    method = MethodRates("free_over", {"EUR": Rate(amount=amount, free_over=threshold)})
    price = quote(method, subtotal=subtotal, weight_grams=0, currency="EUR")
    assert price == (0 if subtotal >= threshold else amount)
    assert quote(method, subtotal=threshold, weight_grams=0, currency="EUR") == 0


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=2, max_size=6))
def test_tiers_not_strictly_increasing_are_refused(bounds: list[int]) -> None:
    assume(any(b <= a for a, b in itertools.pairwise(bounds)))
    tiers = tuple(Tier(b, 100) for b in bounds)
    assert any(code == "not_increasing" for _, code, _ in rate_problems("weight_tiers", Rate(tiers=tiers)))


@given(st.text(alphabet="0123456789", min_size=5, max_size=5), st.text(alphabet="0123456789", min_size=5,
                                                                     max_size=5), st.text(max_size=12))
def test_a_range_matches_exactly_the_postcodes_between_its_ends(low: str, high: str, postcode: str) -> None:
    low, high = sorted((low, high))
    area = Area("DE", postal_from=low, postal_to=high)
    head = normalize_postcode(postcode)[:5]
    matched = area_match(area, country="DE", region=None, postal_code=postcode) is not None
    assert matched == (len(head) == 5 and low <= head <= high)
