"""pricing.tax_rules: per-line tax arithmetic, exemption, the choice of rate among zones, and the
invariants that hold for every amount and rate."""

from __future__ import annotations

import uuid
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.pricing.tax_rules import (
    MAX_RATE_PPM,
    PPM,
    TaxLine,
    TaxRate,
    ZoneRate,
    choose_rates,
    compute,
    normalize_postcode,
    normalize_region,
    percent,
    round_half_up,
    shipping_line,
    specificity,
    tax_in_gross,
    tax_on_net,
    zone_matches,
)

DE = TaxRate("standard", 190_000, "DE VAT 19%", uuid.UUID(int=1), "vat-de")
DE_REDUCED = TaxRate("reduced", 70_000, "DE VAT 7%", uuid.UUID(int=1), "vat-de")
RATES = {"standard": DE, "reduced": DE_REDUCED}

amounts = st.integers(min_value=0, max_value=10**15)
rates_ppm = st.integers(min_value=0, max_value=MAX_RATE_PPM)
classes = st.sampled_from(["standard", "reduced", "zero"])


def exact_round(value: Fraction) -> int:
    """Half up on the exact rational, the definition the integer arithmetic must match."""
    floor = value.numerator // value.denominator
    return floor + (1 if value - floor >= Fraction(1, 2) else 0)


# ---------------------------------------------------------------------------------------------
# worked examples


def test_exclusive_adds_the_tax() -> None:
    result = compute([TaxLine("a", 1000)], RATES, prices_include_tax=False)
    line = result.line("a")
    assert (line.net, line.tax, line.gross, line.rate_ppm) == (1000, 190, 1190, 190_000)
    assert "19% (DE VAT 19%) added to 1000" in line.explanation


def test_inclusive_takes_the_tax_out_of_the_price() -> None:
    line = compute([TaxLine("a", 1190)], RATES, prices_include_tax=True).line("a")
    assert (line.net, line.tax, line.gross) == (1000, 190, 1190)
    assert "included in 1190" in line.explanation


def test_half_rounds_up_per_line() -> None:
    # 50 × 1 % = 0.5 → 1 on each line; rounding the total (100 × 1 % = 1) would give 1, not 2.
    one_percent = {"standard": TaxRate("standard", 10_000, "1%")}
    result = compute([TaxLine("a", 50), TaxLine("b", 50)], one_percent, prices_include_tax=False)
    assert [line.tax for line in result.lines] == [1, 1]
    assert result.tax == 2
    # just below the half rounds down
    assert tax_on_net(49, 10_000) == 0
    assert tax_in_gross(119, 190_000) == 19  # 18.999.. → 19
    assert tax_in_gross(3, 190_000) == 0  # 0.479 → 0


def test_exempt_customer_exclusive_pays_the_net() -> None:
    line = compute([TaxLine("a", 1000)], RATES, prices_include_tax=False, exempt=True).line("a")
    assert (line.net, line.tax, line.gross, line.rate_ppm, line.exempt) == (1000, 0, 1000, 0, True)


def test_exempt_customer_inclusive_has_the_tax_removed() -> None:
    result = compute([TaxLine("a", 1190), TaxLine("b", 107, "reduced")], RATES, prices_include_tax=True, exempt=True)
    assert [(line.net, line.tax, line.gross) for line in result.lines] == [(1000, 0, 1000), (100, 0, 100)]
    assert (result.net, result.tax, result.gross) == (1100, 0, 1100)
    assert "190 of tax at 19% (DE VAT 19%) removed from 1190" in result.line("a").explanation


def test_shipping_is_a_line_with_its_own_class() -> None:
    result = compute([TaxLine("a", 1000, "reduced"), shipping_line(500)], RATES, prices_include_tax=False)
    assert result.line("shipping").tax == 95
    assert result.line("a").tax == 70
    assert result.tax == 165
    reduced_shipping = compute([shipping_line(500, "reduced")], RATES, prices_include_tax=False)
    assert reduced_shipping.line("shipping").tax == 35


def test_tuples_are_lines_too() -> None:
    result = compute([("a", 1000, "standard"), ("b", 2000, "reduced", 4)], RATES, prices_include_tax=False)
    assert [(line.key, line.quantity, line.tax) for line in result.lines] == [("a", 1, 190), ("b", 4, 140)]


def test_summary_per_rate_sums_the_lines() -> None:
    result = compute([TaxLine("a", 1190), TaxLine("b", 119), TaxLine("c", 107, "reduced")], RATES,
                     prices_include_tax=True)
    assert [(s.rate_name, s.net, s.tax, s.gross) for s in result.summary] == [
        ("DE VAT 19%", 1100, 209, 1309), ("DE VAT 7%", 100, 7, 107),
    ]


def test_a_class_without_a_rate_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="no rate given for tax class 'books'"):
        compute([TaxLine("a", 100, "books")], RATES, prices_include_tax=False)


def test_negative_amounts_and_rates_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        compute([TaxLine("a", -1)], RATES, prices_include_tax=False)
    with pytest.raises(ValueError, match="rate_ppm"):
        tax_on_net(100, MAX_RATE_PPM + 1)
    with pytest.raises(ValueError, match="rate_ppm"):
        tax_in_gross(100, -1)


def test_percent_labels() -> None:
    assert [percent(r) for r in (190_000, 55_000, 66_250, 0, 1_000_000, 1)] == [
        "19%", "5.5%", "6.625%", "0%", "100%", "0.0001%"]


# ---------------------------------------------------------------------------------------------
# invariants (hypothesis)


@given(st.integers(min_value=0, max_value=10**18), st.integers(min_value=1, max_value=10**7))
def test_round_half_up_is_the_exact_rational_rounded(numerator: int, denominator: int) -> None:
    assert round_half_up(numerator, denominator) == exact_round(Fraction(numerator, denominator))


@given(amounts, rates_ppm)
def test_exclusive_then_inclusive_then_exclusive_round_trips(net: int, rate: int) -> None:
    """Gross a net amount, split the gross again: the same net and the same tax come back."""
    rates = {"standard": TaxRate("standard", rate)}
    exclusive = compute([TaxLine("a", net)], rates, prices_include_tax=False).line("a")
    inclusive = compute([TaxLine("a", exclusive.gross)], rates, prices_include_tax=True).line("a")
    assert (inclusive.net, inclusive.tax, inclusive.gross) == (exclusive.net, exclusive.tax, exclusive.gross)
    assert inclusive.net == net


@given(amounts, rates_ppm)
def test_inclusive_then_exclusive_is_within_a_unit_and_then_stable(gross: int, rate: int) -> None:
    """Split a gross price and tax the net again: at most one minor unit away from the price (not
    every gross is the gross of some net), and splitting that gross gives the same net back."""
    rates = {"standard": TaxRate("standard", rate)}
    split = compute([TaxLine("a", gross)], rates, prices_include_tax=True).line("a")
    regrossed = compute([TaxLine("a", split.net)], rates, prices_include_tax=False).line("a")
    assert abs(regrossed.gross - gross) <= 1
    again = compute([TaxLine("a", regrossed.gross)], rates, prices_include_tax=True).line("a")
    assert (again.net, again.tax) == (split.net, regrossed.tax)


@given(
    st.lists(st.tuples(amounts, classes, st.integers(min_value=1, max_value=1000)), max_size=30),
    rates_ppm, rates_ppm, st.booleans(), st.booleans(),
)
def test_line_and_total_invariants(
    raw: list[tuple[int, str, int]], standard: int, reduced: int, inclusive: bool, exempt: bool
) -> None:
    rates = {"standard": TaxRate("standard", standard, "std"), "reduced": TaxRate("reduced", reduced, "red"),
             "zero": TaxRate("zero", 0, "zero rate", source="fixed_zero")}
    lines = [TaxLine(f"l{i}", amount, cls, qty) for i, (amount, cls, qty) in enumerate(raw)]
    result = compute(lines, rates, prices_include_tax=inclusive, exempt=exempt)
    assert len(result.lines) == len(lines)
    for given_line, taxed in zip(lines, result.lines, strict=True):
        assert taxed.key == given_line.key
        assert taxed.gross == taxed.net + taxed.tax
        assert 0 <= taxed.tax <= taxed.gross
        assert taxed.net >= 0
        if exempt:
            assert taxed.tax == 0
        elif inclusive:
            assert taxed.gross == given_line.amount
        else:
            assert taxed.net == given_line.amount
        if rates[given_line.tax_class].rate_ppm == 0:
            assert taxed.tax == 0
            assert taxed.net == taxed.gross == given_line.amount
        # each line's tax is its own exact rational rounded half up (explainable alone)
        rate = rates[given_line.tax_class].rate_ppm
        if not exempt:
            exact = Fraction(given_line.amount * rate, PPM + rate if inclusive else PPM)
            assert taxed.tax == exact_round(exact)
    assert result.net == sum(t.net for t in result.lines)
    assert result.tax == sum(t.tax for t in result.lines)
    assert result.gross == sum(t.gross for t in result.lines) == result.net + result.tax
    assert sum(s.tax for s in result.summary) == result.tax
    assert sum(s.gross for s in result.summary) == result.gross
    # deterministic: the same input gives the same answer, and line order only reorders lines
    assert compute(lines, rates, prices_include_tax=inclusive, exempt=exempt) == result
    reversed_result = compute(list(reversed(lines)), rates, prices_include_tax=inclusive, exempt=exempt)
    assert reversed_result.lines == tuple(reversed(result.lines))
    assert reversed_result.summary == result.summary


@given(amounts, rates_ppm)
def test_exempt_inclusive_charges_exactly_the_taxed_net(gross: int, rate: int) -> None:
    rates = {"standard": TaxRate("standard", rate)}
    taxed = compute([TaxLine("a", gross)], rates, prices_include_tax=True).line("a")
    exempt = compute([TaxLine("a", gross)], rates, prices_include_tax=True, exempt=True).line("a")
    assert exempt.gross == exempt.net == taxed.net


@given(amounts)
def test_zero_rate_is_no_tax(amount: int) -> None:
    rates = {"zero": TaxRate("zero", 0)}
    for inclusive in (True, False):
        line = compute([TaxLine("a", amount, "zero")], rates, prices_include_tax=inclusive).line("a")
        assert (line.tax, line.net, line.gross) == (0, amount, amount)


# ---------------------------------------------------------------------------------------------
# choosing rates among zones

COUNTRY = uuid.UUID(int=10)
REGION = uuid.UUID(int=11)
POSTCODE = uuid.UUID(int=12)
LONGER = uuid.UUID(int=13)


def row(zone: uuid.UUID, code: str, region: str | None, prefix: str | None, cls: str, rate: int) -> ZoneRate:
    return ZoneRate(zone, code, region, prefix, cls, rate, f"{code} {cls}")


def test_postcode_beats_region_beats_country() -> None:
    rows = [row(COUNTRY, "us", None, None, "standard", 10_000),
            row(REGION, "us-ny", "NY", None, "standard", 40_000),
            row(POSTCODE, "us-100", None, "100", "standard", 88_750),
            row(LONGER, "us-1001", None, "1001", "standard", 90_000)]
    assert choose_rates(rows, ["standard"])["standard"].zone_code == "us-1001"
    assert choose_rates(rows[:3], ["standard"])["standard"].zone_code == "us-100"
    assert choose_rates(rows[:2], ["standard"])["standard"].zone_code == "us-ny"
    assert choose_rates(rows[:1], ["standard"])["standard"].zone_code == "us"
    # whatever the order of the rows
    assert choose_rates(list(reversed(rows)), ["standard"])["standard"].rate_ppm == 90_000
    assert specificity(None, "1") > specificity("NY", None) > specificity(None, None)


def test_a_specific_zone_overrides_only_the_classes_it_lists() -> None:
    rows = [row(COUNTRY, "de", None, None, "standard", 190_000), row(COUNTRY, "de", None, None, "reduced", 70_000),
            row(POSTCODE, "de-27498", None, "27498", "standard", 0)]
    chosen = choose_rates(rows, ["standard", "reduced"])
    assert (chosen["standard"].zone_code, chosen["standard"].rate_ppm) == ("de-27498", 0)
    assert (chosen["reduced"].zone_code, chosen["reduced"].rate_ppm) == ("de", 70_000)


def test_unlisted_class_falls_back_to_standard_and_zero_classes_are_fixed() -> None:
    rows = [row(REGION, "us-ny", "NY", None, "standard", 40_000)]
    chosen = choose_rates(rows, ["books", "zero", "exempt", "books"])
    assert list(chosen) == ["books", "zero", "exempt"]
    assert (chosen["books"].rate_ppm, chosen["books"].source, chosen["books"].zone_code) == \
        (40_000, "standard_fallback", "us-ny")
    assert (chosen["zero"].rate_ppm, chosen["zero"].source, chosen["zero"].zone_code) == (0, "fixed_zero", None)
    assert chosen["exempt"].rate_ppm == 0


def test_no_zone_is_rate_zero_without_a_zone() -> None:
    chosen = choose_rates([], ["standard", "reduced"])
    assert all((r.rate_ppm, r.zone_code, r.zone_id, r.source) == (0, None, None, "no_zone") for r in chosen.values())


def test_matching_and_normalising() -> None:
    assert normalize_postcode(" sw1a 1aa ") == "SW1A1AA"
    assert normalize_postcode("10001-1234") == "100011234"
    assert normalize_postcode("  ") is None
    assert normalize_region("US", "us-ny") == "NY"
    assert normalize_region("US", " NY ") == "NY"
    assert normalize_region("US", "") is None
    assert zone_matches("GB", None, "SW1A", "GB", None, "SW1A1AA")
    assert not zone_matches("GB", None, "SW1A", "GB", None, None)
    assert not zone_matches("GB", None, "SW1A", "GB", None, "SW1B1AA")
    assert zone_matches("US", "NY", None, "US", "NY", None)
    assert not zone_matches("US", "NY", None, "US", "CA", None)
    assert not zone_matches("US", None, None, "CA", None, None)
