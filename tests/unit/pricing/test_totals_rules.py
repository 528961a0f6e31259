"""pricing.totals_rules: the composed engine (unit price → promotions → shipping → tax). Invariants
for any cart (hypothesis): the total equation to the minor unit (exclusive, inclusive, exempt), no
discount above what it discounts, no negative line, breakdowns that explain every total,
inclusive↔exclusive round trips, and results independent of the order of the lines."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.modules.pricing.tax_rules import MAX_RATE_PPM, TaxRate
from mercato.modules.pricing.totals_rules import (
    Discount,
    Discounts,
    PricedLine,
    Shipping,
    Totals,
    explained_total,
    price,
)
from mercato.modules.promotions.rules import (
    Adjustment,
    FixedAmount,
    FreeShipping,
    Percentage,
    PromoCart,
    PromoLine,
    PromoResult,
    Promotion,
    Tier,
    Tiered,
    evaluate,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CHANNEL = uuid.UUID(int=1)
CLASSES = ("standard", "reduced", "zero")

rate_values = st.integers(min_value=0, max_value=MAX_RATE_PPM // 2)


@st.composite
def rate_tables(draw: st.DrawFn) -> dict[str, TaxRate]:
    return {c: TaxRate(c, 0 if c == "zero" else draw(rate_values), f"{c} rate") for c in CLASSES}


@st.composite
def priced_lines(draw: st.DrawFn, *, max_lines: int = 6, unit_quantity: bool = False) -> list[PricedLine]:
    n = draw(st.integers(min_value=1, max_value=max_lines))
    lines = []
    for i in range(n):
        base = draw(st.integers(min_value=0, max_value=500_000))
        listed = draw(st.booleans())
        unit = draw(st.integers(min_value=0, max_value=500_000)) if listed else base
        lines.append(PricedLine(
            key=f"line-{i:02d}", quantity=1 if unit_quantity else draw(st.integers(min_value=1, max_value=50)),
            base_unit_price=base, unit_price=unit, tax_class=draw(st.sampled_from(CLASSES)),
            price_source="price_list" if listed else "base", price_list_id=uuid.UUID(int=7) if listed else None,
            price_explanation="B2B list" if listed else "",
        ))
    return lines


@st.composite
def promotion_sets(draw: st.DrawFn) -> list[Promotion]:
    chosen: list[Promotion] = []
    if draw(st.booleans()):
        chosen.append(Promotion(id=uuid.UUID(int=11), name="10 % off",
                                benefit=Percentage(draw(st.integers(min_value=1, max_value=1_000_000))),
                                priority=draw(st.integers(0, 3))))
    if draw(st.booleans()):
        chosen.append(Promotion(id=uuid.UUID(int=12), name="money off the order", currency="EUR",
                                benefit=FixedAmount(draw(st.integers(min_value=1, max_value=2_000_000)), "order"),
                                priority=draw(st.integers(0, 3))))
    if draw(st.booleans()):
        chosen.append(Promotion(id=uuid.UUID(int=13), name="per unit", currency="EUR",
                                benefit=FixedAmount(draw(st.integers(min_value=1, max_value=5000)), "unit")))
    if draw(st.booleans()):
        chosen.append(Promotion(id=uuid.UUID(int=14), name="tiers", currency="EUR",
                                benefit=Tiered((Tier(1000, 300), Tier(100_000, 5000)))))
    if draw(st.booleans()):
        chosen.append(Promotion(id=uuid.UUID(int=15), name="free shipping", benefit=FreeShipping()))
    return chosen


def promo_cart(lines: list[PricedLine], shipping: int) -> PromoCart:
    return PromoCart.of([PromoLine(key=line.key, variant_id=uuid.uuid5(uuid.NAMESPACE_OID, line.key),
                                   product_id=uuid.uuid5(uuid.NAMESPACE_DNS, line.key), quantity=line.quantity,
                                   unit_price=line.unit_price, subtotal=line.subtotal) for line in lines],
                        currency="EUR", channel_id=CHANNEL, shipping_amount=shipping)


def discounts_of(result: PromoResult) -> Discounts:
    """promotions' result in the engine's terms (what the cart module does)."""
    def convert(adjustments: tuple[Adjustment, ...]) -> list[Discount]:
        return [Discount(source_id=a.promotion_id, name=a.label, amount=a.amount, benefit=a.kind, level=a.level,
                         code=a.code) for a in adjustments]

    return Discounts(per_line={k: convert(v) for k, v in result.line_adjustments.items() if v},
                     order=convert(result.order_adjustments), shipping=convert(result.shipping_adjustments))


def run(lines: list[PricedLine], promotions: list[Promotion], shipping: int | None, rates: dict[str, TaxRate] | None,
        *, inclusive: bool, exempt: bool = False) -> Totals:
    result = evaluate(promo_cart(lines, shipping or 0), promotions, codes=frozenset(), now=NOW)
    charge = Shipping(amount=shipping, tax_class="standard", name="Standard", option_id="m1") \
        if shipping is not None else None
    return price(lines, discounts=discounts_of(result), shipping=charge, rates=rates, prices_include_tax=inclusive,
                 exempt=exempt)


def assert_explained(totals: Totals) -> None:
    for line in totals.lines:
        assert explained_total(line.breakdown) == line.total, line
    assert explained_total(totals.breakdown) == totals.totals.total


shipping_amounts = st.one_of(st.none(), st.integers(min_value=0, max_value=20_000))


@settings(max_examples=300, deadline=None)
@given(priced_lines(), promotion_sets(), shipping_amounts, rate_tables())
def test_tax_exclusive_total_is_subtotal_minus_discount_plus_shipping_plus_tax(
    lines: list[PricedLine], promotions: list[Promotion], shipping: int | None, rates: dict[str, TaxRate]
) -> None:
    totals = run(lines, promotions, shipping, rates, inclusive=False)
    t = totals.totals
    assert t.total == t.subtotal - t.discount + t.shipping + t.tax
    assert t.subtotal == sum(line.unit_price * line.quantity for line in lines)
    assert t.tax == sum(line.tax for line in totals.lines) + totals.shipping_tax
    assert not t.tax_included
    assert_explained(totals)


@settings(max_examples=300, deadline=None)
@given(priced_lines(), promotion_sets(), shipping_amounts, rate_tables())
def test_tax_inclusive_total_contains_the_tax(
    lines: list[PricedLine], promotions: list[Promotion], shipping: int | None, rates: dict[str, TaxRate]
) -> None:
    totals = run(lines, promotions, shipping, rates, inclusive=True)
    t = totals.totals
    assert t.total == t.subtotal - t.discount + t.shipping
    assert t.tax_included
    assert 0 <= t.tax <= t.total
    for line in totals.lines:
        assert line.total == line.subtotal - line.discount
        assert line.net + line.tax == line.total
    assert_explained(totals)


@settings(max_examples=200, deadline=None)
@given(priced_lines(), promotion_sets(), shipping_amounts, rate_tables(), st.booleans())
def test_exempt_buyers_pay_no_tax_and_inclusive_prices_lose_theirs(
    lines: list[PricedLine], promotions: list[Promotion], shipping: int | None, rates: dict[str, TaxRate],
    inclusive: bool,
) -> None:
    totals = run(lines, promotions, shipping, rates, inclusive=inclusive, exempt=True)
    t = totals.totals
    assert t.tax == 0
    taxed = run(lines, promotions, shipping, rates, inclusive=inclusive)
    if inclusive:
        assert t.tax_removed == taxed.totals.tax
        assert t.total == t.subtotal - t.discount + t.shipping - t.tax_removed
    else:
        assert t.tax_removed == 0
        assert t.total == t.subtotal - t.discount + t.shipping
    assert_explained(totals)


@settings(max_examples=300, deadline=None)
@given(priced_lines(), promotion_sets(), shipping_amounts, rate_tables(), st.booleans())
def test_no_discount_exceeds_what_it_discounts_and_no_line_is_negative(
    lines: list[PricedLine], promotions: list[Promotion], shipping: int | None, rates: dict[str, TaxRate],
    inclusive: bool,
) -> None:
    totals = run(lines, promotions, shipping, rates, inclusive=inclusive)
    for line in totals.lines:
        assert 0 <= line.discount <= line.subtotal
        assert line.total >= 0
        assert line.net >= 0
        assert line.tax >= 0
    assert 0 <= totals.shipping_discount <= (shipping or 0)
    assert 0 <= totals.totals.discount <= totals.totals.subtotal + totals.totals.shipping
    assert totals.totals.total >= 0


@settings(max_examples=300, deadline=None)
@given(priced_lines(unit_quantity=True), shipping_amounts, rate_tables())
def test_net_prices_made_gross_and_back_give_the_same_totals(
    lines: list[PricedLine], shipping: int | None, rates: dict[str, TaxRate]
) -> None:
    """Rounding: per line, half up (tax_rules). A net price grossed up and entered as an inclusive
    price splits back into exactly the same net and tax, so the totals are identical."""
    exclusive = run(lines, [], shipping, rates, inclusive=False)
    gross_lines = [PricedLine(key=line.key, quantity=1, base_unit_price=exclusive.line(line.key).total,
                              unit_price=exclusive.line(line.key).total, tax_class=line.tax_class) for line in lines]
    gross_shipping = None
    if shipping is not None:
        gross_shipping = shipping + exclusive.shipping_tax
    inclusive = run(gross_lines, [], gross_shipping, rates, inclusive=True)
    assert inclusive.totals.total == exclusive.totals.total
    assert inclusive.totals.tax == exclusive.totals.tax
    for line in lines:
        assert inclusive.line(line.key).net == exclusive.line(line.key).net
        assert inclusive.line(line.key).tax == exclusive.line(line.key).tax


@settings(max_examples=200, deadline=None)
@given(priced_lines(), promotion_sets(), shipping_amounts, rate_tables(), st.booleans(), st.randoms())
def test_the_order_of_the_lines_changes_nothing(
    lines: list[PricedLine], promotions: list[Promotion], shipping: int | None, rates: dict[str, TaxRate],
    inclusive: bool, rnd: random.Random,
) -> None:
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    reordered_promotions = list(promotions)
    rnd.shuffle(reordered_promotions)
    assert run(shuffled, reordered_promotions, shipping, rates, inclusive=inclusive) == \
        run(lines, promotions, shipping, rates, inclusive=inclusive)


@settings(max_examples=100, deadline=None)
@given(priced_lines(), rate_tables())
def test_without_rates_no_tax_is_computed(lines: list[PricedLine], rates: dict[str, TaxRate]) -> None:
    totals = run(lines, [], None, None, inclusive=False)
    assert not totals.tax_computed
    assert totals.totals.tax == 0
    assert totals.totals.total == totals.totals.subtotal
    assert_explained(totals)


def test_a_breakdown_names_every_step_with_its_source() -> None:
    line = PricedLine(key="a", quantity=2, base_unit_price=1000, unit_price=900, tax_class="standard",
                      price_source="price_list", price_list_id=uuid.UUID(int=7), price_explanation="B2B list")
    promo = uuid.UUID(int=11)
    totals = price([line], discounts=Discounts(per_line={"a": [Discount(source_id=promo, name="10 % off", amount=180,
                                                                        benefit="percentage", code="WELCOME10")]}),
                   shipping=Shipping(amount=490, tax_class="standard", name="Standard"),
                   rates={"standard": TaxRate("standard", 190_000, "DE VAT")}, prices_include_tax=True)
    kinds = [(e.kind, e.amount, e.source_id) for e in totals.line("a").breakdown]
    assert kinds == [("base_price", 2000, None), ("price_list", -200, str(uuid.UUID(int=7))),
                     ("promotion", -180, str(promo)), ("tax", 259, None)]
    assert totals.line("a").total == 1620
    assert totals.line("a").tax == 259
    assert totals.totals.as_dict() == {"subtotal": 1800, "discount": 180, "shipping": 490, "tax": 259 + 78,
                                       "total": 2110}
    assert [e.kind for e in totals.breakdown] == ["subtotal", "promotion", "shipping", "tax"]


@pytest.mark.parametrize(("name", "label"), [("DE VAT 19%", "DE VAT 19%"), ("DE VAT", "DE VAT 19%"), ("", "19%")])
def test_tax_entries_name_the_rate_once(name: str, label: str) -> None:
    line = PricedLine(key="a", quantity=1, base_unit_price=1190, unit_price=1190, tax_class="standard")
    totals = price([line], shipping=Shipping(amount=490, tax_class="standard"),
                   rates={"standard": TaxRate("standard", 190_000, name)}, prices_include_tax=True)
    assert [e.name for e in totals.line("a").breakdown if e.kind == "tax"] == [label]
    assert [e.name for e in totals.breakdown if e.kind == "tax"] == [label]


def test_impossible_discounts_are_refused() -> None:
    line = PricedLine(key="a", quantity=1, base_unit_price=100, unit_price=100, tax_class="standard")
    too_much = Discounts(per_line={"a": [Discount(source_id=uuid.UUID(int=1), name="x", amount=101, benefit="p")]})
    with pytest.raises(ValueError, match="at most the line's subtotal"):
        price([line], discounts=too_much, rates=None, prices_include_tax=False)
    free_too_much = Discounts(shipping=[Discount(source_id=uuid.UUID(int=1), name="x", amount=600, benefit="f")])
    with pytest.raises(ValueError, match="shipping discount"):
        price([line], discounts=free_too_much, shipping=Shipping(amount=500, tax_class="standard"), rates=None,
              prices_include_tax=False)
    with pytest.raises(ValueError, match="unknown lines"):
        price([line], discounts=Discounts(per_line={"b": []}), rates=None, prices_include_tax=False)
