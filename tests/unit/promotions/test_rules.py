"""promotions.rules.evaluate: each benefit and condition by example, stacking, caps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

import pytest

from mercato.modules.promotions.rules import (
    ALPHABET,
    ALREADY_USED,
    DUPLICATE,
    EXPIRED,
    INACTIVE,
    MINIMUM_NOT_MET,
    NOT_COMBINABLE,
    NOT_ELIGIBLE,
    NOT_FOUND,
    NOT_STARTED,
    PPM,
    USAGE_LIMIT_REACHED,
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
    evaluate,
    generate_codes,
    normalize_code,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
WEB, OTHER_CHANNEL = uuid.UUID(int=1), uuid.UUID(int=2)
SHIRT, MUG, HAT = uuid.UUID(int=101), uuid.UUID(int=102), uuid.UUID(int=103)
GOLD = uuid.UUID(int=201)
CUSTOMER = uuid.UUID(int=301)
ROOT, SHOES, RUNNING = "r", "r/shoes", "r/shoes/running"


def pid(n: int) -> uuid.UUID:
    return uuid.UUID(int=1000 + n)


def line(key: str, unit_price: int, quantity: int = 1, *, product: uuid.UUID | None = None,
         category: str | None = None, collections: frozenset[uuid.UUID] = frozenset(),
         brand: uuid.UUID | None = None) -> PromoLine:
    return PromoLine(key=key, variant_id=uuid.uuid5(uuid.NAMESPACE_OID, key),
                     product_id=product or uuid.uuid5(uuid.NAMESPACE_DNS, key), quantity=quantity,
                     unit_price=unit_price, subtotal=unit_price * quantity, category_path=category,
                     collection_ids=collections, brand_id=brand)


def cart(*lines: PromoLine, **extra: Any) -> PromoCart:
    return PromoCart.of(lines, currency=extra.pop("currency", "EUR"), channel_id=extra.pop("channel_id", WEB), **extra)


def promo(n: int, benefit: Benefit, **extra: Any) -> Promotion:
    return Promotion(id=pid(n), name=extra.pop("name", f"P{n}"), benefit=benefit, **extra)


def coupon(n: int, benefit: Benefit, *codes: str, **extra: Any) -> Promotion:
    return promo(n, benefit, trigger="coupon", codes={c: CodeState(c) for c in codes or (f"CODE{n}",)}, **extra)


def run(c: PromoCart, *promotions: Promotion, codes: tuple[str, ...] = (), **extra: Any) -> PromoResult:
    return evaluate(c, promotions, codes=frozenset(codes), now=NOW, **extra)


def discounts(result: PromoResult) -> dict[str, int]:
    return {key: result.line_discount(key) for key in result.line_adjustments if result.line_discount(key)}


def reason(result: PromoResult, code: str) -> str:
    return result.rejections[code].reason


# ---------------------------------------------------------------------------------------------
# benefits


def test_percentage_is_rounded_once_and_spread_by_largest_remainder() -> None:
    result = run(cart(line("a", 1000, 2), line("b", 333, 3)), promo(1, Percentage(100_000)))
    # 10 % of 2999 = 299.9 → 300; 200.07 / 99.93 → 200 / 100 (the larger remainder gets the unit)
    assert discounts(result) == {"a": 200, "b": 100}
    assert result.discount_total == 300
    (adjustment,) = result.line_adjustments["a"]
    assert (adjustment.promotion_id, adjustment.kind, adjustment.level, adjustment.label) == \
        (pid(1), "percentage", "line", "P1")
    assert result.applied_promotion_ids == (pid(1),)


def test_hundred_percent_makes_the_lines_free_and_no_more() -> None:
    result = run(cart(line("a", 999, 3)), promo(1, Percentage(PPM)))
    assert discounts(result) == {"a": 2997}


def test_fixed_amount_per_unit_per_line_and_per_order() -> None:
    c = cart(line("a", 1000, 2), line("b", 150))
    assert discounts(run(c, promo(1, FixedAmount(200, "unit")))) == {"a": 400, "b": 150}  # b: what it costs
    assert discounts(run(c, promo(1, FixedAmount(500, "line")))) == {"a": 500, "b": 150}
    per_order = run(c, promo(1, FixedAmount(430, "order")))
    assert discounts(per_order) == {"a": 400, "b": 30}  # pro rata 2000 : 150
    (order,) = per_order.order_adjustments
    assert (order.amount, order.level, order.kind) == (430, "order", "fixed_amount")
    assert {a.level for adjustments in per_order.line_adjustments.values() for a in adjustments} == {"order"}
    assert discounts(run(c, promo(1, FixedAmount(10_000, "order")))) == {"a": 2000, "b": 150}  # capped


def test_fixed_price_per_unit() -> None:
    result = run(cart(line("a", 1000, 2), line("b", 500)), promo(1, FixedPrice(799)))
    assert discounts(result) == {"a": 402}  # b already costs less than 7.99: untouched


def test_buy_two_get_the_cheapest_free() -> None:
    c = cart(line("a", 1000, 3), line("b", 500))
    assert discounts(run(c, promo(1, BuyXGetY(2, 1)))) == {"b": 500}  # 4 units: one group
    six = cart(line("a", 1000, 3), line("b", 500, 2), line("c", 300))
    assert discounts(run(six, promo(1, BuyXGetY(2, 1)))) == {"c": 300, "b": 500}  # two groups: two cheapest


def test_buy_one_get_one_half_price_and_max_applications() -> None:
    c = cart(line("a", 1000, 2), line("b", 600, 2))
    assert discounts(run(c, promo(1, BuyXGetY(1, 1, rate_ppm=500_000)))) == {"b": 600}  # 2 units at 50 %
    assert discounts(run(c, promo(1, BuyXGetY(1, 1, rate_ppm=500_000, max_applications=1)))) == {"b": 300}


def test_buy_x_get_y_needs_enough_units() -> None:
    result = run(cart(line("a", 1000, 2)), coupon(1, BuyXGetY(2, 1), "B2G1"), codes=("B2G1",))
    assert reason(result, "B2G1") == MINIMUM_NOT_MET
    assert result.discount_total == 0


def test_tiered_spend_thresholds() -> None:
    tiers = Tiered((Tier(5000, 500), Tier(10000, 1500)))
    below = run(cart(line("a", 4999)), coupon(1, tiers, "SPEND"), codes=("SPEND",))
    assert reason(below, "SPEND") == MINIMUM_NOT_MET
    assert run(cart(line("a", 5000)), promo(1, tiers)).discount_total == 500
    high = run(cart(line("a", 6000), line("b", 6000)), promo(1, tiers))
    assert discounts(high) == {"a": 750, "b": 750}
    assert [a.amount for a in high.order_adjustments] == [1500]


def test_free_shipping() -> None:
    result = run(cart(line("a", 1000), shipping_amount=495), promo(1, FreeShipping()))
    assert (result.free_shipping, result.shipping_discount, result.discount_total) == (True, 495, 0)
    (adjustment,) = result.shipping_adjustments
    assert (adjustment.amount, adjustment.level) == (495, "shipping")
    assert result.applied[0].amount == 495
    again = run(cart(line("a", 1000), shipping_amount=495), promo(1, FreeShipping()),
                coupon(2, FreeShipping(), "SHIP"), codes=("SHIP",))
    assert reason(again, "SHIP") == NOT_ELIGIBLE
    assert again.shipping_discount == 495


def test_bundle_price() -> None:
    bundle = Bundle((BundleItem(SHIRT), BundleItem(MUG)), price=2500)
    one = cart(line("shirt", 1000, 2, product=SHIRT), line("mug", 2000, product=MUG))
    assert discounts(run(one, promo(1, bundle))) == {"mug": 333, "shirt": 167}  # 500 over 1000 : 2000
    two = cart(line("shirt", 1000, 2, product=SHIRT), line("mug", 2000, 2, product=MUG))
    assert run(two, promo(1, bundle)).discount_total == 1000
    incomplete = run(cart(line("shirt", 1000, 5, product=SHIRT)), coupon(1, bundle, "BUNDLE"), codes=("BUNDLE",))
    assert reason(incomplete, "BUNDLE") == MINIMUM_NOT_MET


def test_bundle_takes_the_most_valuable_units_and_multibuy_works() -> None:
    three_for_ten = Bundle((BundleItem(HAT, 3),), price=1000)
    c = cart(line("cheap", 300, 2, product=HAT), line("dear", 500, 2, product=HAT))
    # one set: the two 5.00 hats and one 3.00 hat (13.00) for 10.00
    assert discounts(run(c, promo(1, three_for_ten))) == {"dear": 231, "cheap": 69}


def test_bundle_above_the_item_prices_gives_nothing() -> None:
    bundle = Bundle((BundleItem(SHIRT), BundleItem(MUG)), price=5000)
    result = run(cart(line("s", 1000, product=SHIRT), line("m", 1000, product=MUG)), coupon(1, bundle, "B"),
                 codes=("B",))
    assert reason(result, "B") == NOT_ELIGIBLE


# ---------------------------------------------------------------------------------------------
# conditions


def test_window_activity_channel_currency() -> None:
    c = cart(line("a", 1000))
    ten = Percentage(100_000)
    cases = {
        "LATER": (coupon(1, ten, "LATER", starts_at=NOW + timedelta(seconds=1)), NOT_STARTED),
        "OVER": (coupon(2, ten, "OVER", ends_at=NOW), EXPIRED),
        "OFF": (coupon(3, ten, "OFF", is_active=False), INACTIVE),
        "ELSEWHERE": (coupon(4, ten, "ELSEWHERE", channel_ids=frozenset({OTHER_CHANNEL})), NOT_ELIGIBLE),
        "DOLLARS": (coupon(5, ten, "DOLLARS", currency="USD"), NOT_ELIGIBLE),
    }
    result = run(c, *(p for p, _ in cases.values()), codes=tuple(cases))
    assert {code: reason(result, code) for code in cases} == {code: r for code, (_, r) in cases.items()}
    assert result.applied == ()
    ok = run(c, coupon(1, ten, "NOW", starts_at=NOW, ends_at=NOW + timedelta(days=1),
                       channel_ids=frozenset({WEB}), currency="EUR"), codes=("NOW",))
    assert ok.discount_total == 100


def test_customer_conditions() -> None:
    ten = Percentage(100_000)
    guest = cart(line("a", 1000))
    member = cart(line("a", 1000), customer_id=CUSTOMER, customer_group_ids=frozenset({GOLD}), is_first_order=True)
    gold = coupon(1, ten, "GOLD", customer_group_ids=frozenset({GOLD}))
    first = coupon(2, ten, "FIRST", first_order_only=True)
    once = coupon(3, ten, "ONCE", per_customer_limit=1)
    codes = ("GOLD", "FIRST", "ONCE")
    refused = run(guest, gold, first, once, codes=codes)
    assert {c: reason(refused, c) for c in codes} == {"GOLD": NOT_ELIGIBLE, "FIRST": NOT_ELIGIBLE,
                                                      "ONCE": NOT_ELIGIBLE}
    assert "Sign in" in refused.rejections["ONCE"].message
    applied = run(member, gold, first, once, codes=codes)
    assert applied.applied_codes == ("GOLD", "FIRST", "ONCE")
    # `redeem` checks the first order once more, under the customer's lock, for that one only
    assert [a.code for a in applied.applied if a.first_order_only] == ["FIRST"]
    used = coupon(3, ten, "ONCE", per_customer_limit=1, customer_uses=1)
    assert reason(run(member, used, codes=("ONCE",)), "ONCE") == ALREADY_USED


def test_usage_budget_and_code_limits() -> None:
    c = cart(line("a", 1000))
    ten = Percentage(100_000)
    result = run(c, coupon(1, ten, "FULL", usage_limit=5, uses=5), coupon(2, ten, "SPENT", budget=100, spent=100),
                 promo(3, ten, trigger="coupon", codes={"USED": CodeState("USED", max_uses=1, uses=1)}),
                 codes=("FULL", "SPENT", "USED"))
    assert {c: reason(result, c) for c in ("FULL", "SPENT", "USED")} == {
        "FULL": USAGE_LIMIT_REACHED, "SPENT": USAGE_LIMIT_REACHED, "USED": ALREADY_USED}


def test_unknown_duplicate_and_malformed_codes() -> None:
    p = coupon(1, Percentage(100_000), "SUMMER", "SUMMER2")
    result = run(cart(line("a", 1000)), p, codes=("summer", "Summer", "SUMMER2", "NOPE", "bad code!"))
    assert result.applied_codes == ("SUMMER",)  # normalised; the first of the promotion's codes in order
    assert reason(result, "SUMMER2") == DUPLICATE
    assert reason(result, "NOPE") == NOT_FOUND
    assert reason(result, "bad code!") == NOT_FOUND
    assert result.discount_total == 100


def test_an_automatic_promotion_needs_no_code_and_a_coupon_one_does() -> None:
    c = cart(line("a", 1000))
    assert run(c, coupon(1, Percentage(100_000), "X")).applied == ()
    assert run(c, promo(1, Percentage(100_000))).discount_total == 100


def test_targets_categories_with_descendants_collections_brands_and_exclusions() -> None:
    summer, nike = uuid.UUID(int=501), uuid.UUID(int=601)
    c = cart(line("run", 1000, category=RUNNING), line("boot", 1000, category=SHOES),
             line("top", 1000, category=ROOT), line("sock", 1000, collections=frozenset({summer})),
             line("cap", 1000, brand=nike), line("loose", 1000, product=HAT))
    shoes = Targets(category_paths=frozenset({SHOES}))
    assert discounts(run(c, promo(1, Percentage(PPM), targets=shoes))) == {"run": 1000, "boot": 1000}
    assert set(discounts(run(c, promo(1, Percentage(PPM), targets=Targets(
        category_paths=frozenset({"r/sh"})))))) == set()  # a prefix of a path is not an ancestor
    either = Targets(collection_ids=frozenset({summer}), brand_ids=frozenset({nike}), product_ids=frozenset({HAT}))
    assert set(discounts(run(c, promo(1, Percentage(PPM), targets=either)))) == {"sock", "cap", "loose"}
    but_running = Targets(category_paths=frozenset({SHOES}), excluded_category_paths=frozenset({RUNNING}))
    assert set(discounts(run(c, promo(1, Percentage(PPM), targets=but_running)))) == {"boot"}
    all_but_hat = Targets(excluded_product_ids=frozenset({HAT}))
    assert "loose" not in discounts(run(c, promo(1, Percentage(PPM), targets=all_but_hat)))


def test_minimums_count_the_targeted_lines_only() -> None:
    shoes = Targets(category_paths=frozenset({SHOES}))
    c = cart(line("boot", 3000, category=SHOES), line("shirt", 5000))
    needs_50 = coupon(1, Percentage(100_000), "SHOES50", targets=shoes, min_subtotal=5000)
    assert reason(run(c, needs_50, codes=("SHOES50",)), "SHOES50") == MINIMUM_NOT_MET
    needs_2 = coupon(1, Percentage(100_000), "TWO", targets=shoes, min_quantity=2)
    assert reason(run(c, needs_2, codes=("TWO",)), "TWO") == MINIMUM_NOT_MET
    assert run(cart(line("boot", 3000, 2, category=SHOES)), needs_2, codes=("TWO",)).discount_total == 600
    nothing = coupon(1, Percentage(100_000), "NONE", targets=shoes)
    assert reason(run(cart(line("shirt", 5000)), nothing, codes=("NONE",)), "NONE") == NOT_ELIGIBLE


# ---------------------------------------------------------------------------------------------
# stacking


def test_later_discounts_apply_to_what_is_left() -> None:
    c = cart(line("a", 1000))
    result = run(c, promo(2, Percentage(100_000), priority=1), promo(1, Percentage(100_000)))
    assert [a.amount for a in result.line_adjustments["a"]] == [100, 90]
    assert result.applied_promotion_ids == (pid(2), pid(1))  # priority first


def test_equal_priority_goes_by_id() -> None:
    c = cart(line("a", 1000))
    result = run(c, promo(2, FixedAmount(100, "order")), promo(1, Percentage(500_000)))
    assert result.applied_promotion_ids == (pid(1), pid(2))
    assert [a.amount for a in result.line_adjustments["a"]] == [500, 100]


def test_exclusive_stops_the_rest_or_is_skipped() -> None:
    c = cart(line("a", 1000))
    first = run(c, coupon(1, Percentage(200_000), "ALONE", exclusive=True, priority=5),
                coupon(2, Percentage(100_000), "TOO"), promo(3, FixedAmount(50, "order")), codes=("ALONE", "TOO"))
    assert first.applied_codes == ("ALONE",)
    assert reason(first, "TOO") == NOT_COMBINABLE
    assert first.discount_total == 200
    later = run(c, promo(3, FixedAmount(50, "order"), priority=9), coupon(1, Percentage(200_000), "ALONE",
                exclusive=True), codes=("ALONE",))
    assert reason(later, "ALONE") == NOT_COMBINABLE
    assert later.applied_promotion_ids == (pid(3),)


def test_an_exclusive_promotion_that_grants_nothing_blocks_nothing() -> None:
    c = cart(line("a", 1000))
    result = run(c, promo(1, BuyXGetY(5, 1), exclusive=True, priority=9), promo(2, Percentage(100_000)))
    assert result.applied_promotion_ids == (pid(2),)


def test_one_non_stackable_promotion_at_most() -> None:
    c = cart(line("a", 1000))
    result = run(c, coupon(1, Percentage(100_000), "A", stackable=False), coupon(2, Percentage(200_000), "B",
                 stackable=False), promo(3, FixedAmount(10, "order")), codes=("A", "B"))
    assert result.applied_promotion_ids == (pid(1), pid(3))
    assert reason(result, "B") == NOT_COMBINABLE


def test_nothing_left_to_discount() -> None:
    c = cart(line("a", 1000))
    result = run(c, promo(1, Percentage(PPM), priority=1), coupon(2, Percentage(100_000), "MORE"), codes=("MORE",))
    assert reason(result, "MORE") == NOT_ELIGIBLE
    assert result.discount_total == 1000


# ---------------------------------------------------------------------------------------------
# caps


def test_the_promotion_maximum_and_budget_trim_its_discount() -> None:
    c = cart(line("a", 3000), line("b", 1000))
    assert discounts(run(c, promo(1, Percentage(500_000), max_discount_amount=1000))) == {"a": 750, "b": 250}
    assert run(c, promo(1, Percentage(500_000), max_discount_ppm=100_000)).discount_total == 400
    assert run(c, promo(1, Percentage(500_000), budget=1000, spent=700)).discount_total == 300


def test_the_cart_maximum_total_discount() -> None:
    c = cart(line("a", 1000))
    cap = DiscountCap(amount=300)
    result = run(c, promo(1, Percentage(200_000), priority=1), coupon(2, Percentage(200_000), "MORE"),
                 coupon(3, FixedAmount(50), "EVEN"), codes=("MORE", "EVEN"), max_total_discount=cap)
    assert [a.amount for a in result.line_adjustments["a"]] == [200, 100]
    assert reason(result, "EVEN") == NOT_COMBINABLE
    assert run(c, promo(1, Percentage(PPM)), max_total_discount=DiscountCap(rate_ppm=250_000)).discount_total == 250


def test_free_shipping_needs_the_budget_to_cover_it() -> None:
    c = cart(line("a", 1000), shipping_amount=500)
    result = run(c, coupon(1, FreeShipping(), "SHIP", budget=1000, spent=600), codes=("SHIP",))
    assert reason(result, "SHIP") == USAGE_LIMIT_REACHED


# ---------------------------------------------------------------------------------------------
# inputs


def test_code_normalisation() -> None:
    assert normalize_code("  welcome10 ") == "WELCOME10"
    assert normalize_code("a-b_c") == "A-B_C"
    for bad in ("", "   ", "-X", "has space", "x" * 65, "ümlaut"):
        assert normalize_code(bad) is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"quantity": 0}, "quantity"), ({"unit_price": -1}, "unit_price"), ({"subtotal": 5}, "subtotal"),
])
def test_bad_lines_are_refused(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"key": "a", "variant_id": uuid.uuid4(), "product_id": uuid.uuid4(), "quantity": 2,
                            "unit_price": 100, "subtotal": 200}
    with pytest.raises(ValueError, match=message):
        PromoLine(**(base | kwargs))


def test_bad_carts_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        cart(line("a", 100), line("a", 200))
    with pytest.raises(ValueError, match="subtotal"):
        PromoCart(lines=(line("a", 100),), subtotal=50, currency="EUR", channel_id=WEB)


def test_generated_codes_are_distinct_and_unambiguous() -> None:
    codes = generate_codes(5000, prefix="SUMMER-", length=6, rng=Random(7))
    assert len(set(codes)) == 5000
    assert all(c.startswith("SUMMER-") and len(c) == 13 for c in codes)
    assert set("".join(c.removeprefix("SUMMER-") for c in codes)) == set(ALPHABET)
    assert not set(ALPHABET) & set("01OIL")
    assert all(normalize_code(c) == c for c in codes)
    assert generate_codes(3, length=8, rng=Random(1)) == generate_codes(3, length=8, rng=Random(1))
