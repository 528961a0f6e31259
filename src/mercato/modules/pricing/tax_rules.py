"""Tax arithmetic and rate choice: pure, no I/O.

Amounts are integer minor units, rates integer parts per million (19 % = 190_000).

**Rounding: per line, half up, on the exact rational.** Each line's tax is computed from that
line's own amount and rounded once, to the nearest minor unit, a half rounding up; the order's
tax is the sum of the lines' taxes (nothing is re-rounded on the total). Why per line: a line's tax
must be explainable from that line alone (amount × rate, rounded), invoices print tax per line,
and a refund of one line gives back exactly the tax that line carried. Rounding on the total
instead could differ from the sum of the printed lines by a few cents. The division is done in
integers (`(2n + d) // 2d`), never in floats, so the result is the same on every machine.

  * prices exclude tax (US): the amount is the net; `tax = round(net × r / 1e6)`, `gross = net + tax`.
  * prices include tax (EU, GB): the amount is the gross; `tax = round(gross × r / (1e6 + r))`,
    `net = gross − tax` (the tax is taken out of the price, never added on top).

Going net → gross → net again recovers the same net and tax for every amount and rate (proved in
tests/unit/pricing/test_tax_rules.py): for x = net·r/1e6, the inclusive split of the gross is
x + e·r/(1e6 + r), where e = round(x) − x, and that is strictly closer than ½ to round(x).
The other way round can be one minor unit off, since not every gross is the gross of some net:
at 19 % no net gives 3 (2 → 2, 3 → 4), so 3 splits into net 3 + tax 0 and re-grossing gives 4.
Prices entered gross are split, never re-grossed.

**Tax-exempt customers** (B2B with a valid VAT id, reverse charge): tax is 0 on every line. With
prices excluding tax they pay the net amount. With prices *including* tax the tax is *removed*:
the line's tax is computed as usual and taken off, so they pay the net (gross 1190 at 19 % → they
pay 1000). The other choice, keeping the gross and calling it all net, would make the exempt
buyer pay the tax to the shop instead of to the state; removing it is what an exemption means
and matches what a B2B buyer sees on a net price list.

Shipping is taxed as one more line with its own tax class (`shipping_line`); by default the
`standard` class.

**Which rate applies** (`choose_rates`, used by the table provider): zones are matched by country,
then optionally by region (subdivision code) and by postcode prefix.
  1. Classes `zero` and `exempt` are 0 everywhere: no zone is consulted (ZERO_CLASSES).
  2. For any other class, the most specific matching zone that has a rate for the class wins:
     a postcode prefix beats a region, which beats the whole country; a longer prefix beats a
     shorter one. A more specific zone overrides only the classes it lists.
  3. A class no matching zone lists gets the `standard` rate chosen the same way (a custom class
     nobody configured yet is taxed like ordinary goods rather than silently untaxed: collecting
     too little tax is the merchant's liability, too much shows and can be corrected).
  4. No matching zone (or none with a standard rate): rate 0 and `zone_code = None`: the shop
     does not collect tax there (an unknown country, a US state without nexus). The cart decides
     which countries it sells to; tax never refuses an address.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

PPM = 1_000_000
MAX_RATE_PPM = PPM  # 100 %: no VAT or sales tax comes close; anything above is a typo
STANDARD = "standard"
ZERO_CLASSES = frozenset({"zero", "exempt"})
SHIPPING_KEY = "shipping"

RateSource = Literal["zone", "standard_fallback", "fixed_zero", "no_zone"]


@dataclass(frozen=True)
class TaxRate:
    """The rate a class has at an address, and where it comes from (for the explanation)."""

    tax_class: str
    rate_ppm: int
    name: str = ""
    zone_id: uuid.UUID | None = None
    zone_code: str | None = None
    source: RateSource = "zone"


@dataclass(frozen=True)
class TaxLine:
    """A line to tax: `amount` is the line total after discounts, in minor units (net when prices
    exclude tax, gross when they include it)."""

    key: str
    amount: int
    tax_class: str = STANDARD
    quantity: int = 1


@dataclass(frozen=True)
class TaxedLine:
    key: str
    tax_class: str
    quantity: int
    amount: int
    net: int
    tax: int
    gross: int
    rate_ppm: int  # the rate applied: 0 for an exempt customer
    rate_name: str  # for an exempt customer: the rate that would have applied (and was removed)
    zone_code: str | None
    exempt: bool
    explanation: str


@dataclass(frozen=True)
class TaxSummary:
    """Per applied rate, the sums of its lines (an invoice's VAT table): never re-rounded."""

    rate_ppm: int
    rate_name: str
    net: int
    tax: int
    gross: int


@dataclass(frozen=True)
class TaxResult:
    lines: tuple[TaxedLine, ...]
    net: int
    tax: int
    gross: int
    prices_include_tax: bool
    exempt: bool
    summary: tuple[TaxSummary, ...]

    def line(self, key: str) -> TaxedLine:
        for taxed in self.lines:
            if taxed.key == key:
                return taxed
        raise KeyError(key)


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, a half up (both non-negative)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def _check_rate(rate_ppm: int) -> None:
    if not 0 <= rate_ppm <= MAX_RATE_PPM:
        raise ValueError(f"rate_ppm must be between 0 and {MAX_RATE_PPM}, got {rate_ppm}")


def tax_on_net(net: int, rate_ppm: int) -> int:
    """The tax on a tax-exclusive amount."""
    _check_rate(rate_ppm)
    return round_half_up(net * rate_ppm, PPM)


def tax_in_gross(gross: int, rate_ppm: int) -> int:
    """The tax contained in a tax-inclusive amount."""
    _check_rate(rate_ppm)
    return round_half_up(gross * rate_ppm, PPM + rate_ppm)


def percent(rate_ppm: int) -> str:
    """190000 → '19%', 55000 → '5.5%', 66250 → '6.625%'."""
    whole, fraction = divmod(rate_ppm, 10_000)
    return f"{whole}.{fraction:04d}".rstrip("0").rstrip(".") + "%"


def shipping_line(amount: int, tax_class: str = STANDARD, key: str = SHIPPING_KEY) -> TaxLine:
    """Shipping as a line of its own, taxed with its own class."""
    return TaxLine(key, amount, tax_class, 1)


LineInput = TaxLine | tuple[str, int, str] | tuple[str, int, str, int]


def _as_line(line: LineInput) -> TaxLine:
    return line if isinstance(line, TaxLine) else TaxLine(*line)


def tax_line(line: TaxLine, rate: TaxRate, *, prices_include_tax: bool, exempt: bool) -> TaxedLine:
    """One line's net, tax and gross (see the module doc)."""
    if line.amount < 0:
        raise ValueError(f"line {line.key!r}: the amount must not be negative (apply discounts within the line)")
    where = f" ({rate.name})" if rate.name else ""
    if prices_include_tax:
        contained = tax_in_gross(line.amount, rate.rate_ppm)
        if exempt:
            net = line.amount - contained
            return TaxedLine(line.key, line.tax_class, line.quantity, line.amount, net, 0, net, 0, rate.name,
                             rate.zone_code, True,
                             f"tax-exempt customer: {contained} of tax at {percent(rate.rate_ppm)}{where} "
                             f"removed from {line.amount}")
        return TaxedLine(line.key, line.tax_class, line.quantity, line.amount, line.amount - contained, contained,
                         line.amount, rate.rate_ppm, rate.name, rate.zone_code, False,
                         f"{percent(rate.rate_ppm)}{where} included in {line.amount}, rounded half up per line")
    if exempt:
        return TaxedLine(line.key, line.tax_class, line.quantity, line.amount, line.amount, 0, line.amount, 0,
                         rate.name, rate.zone_code, True, "tax-exempt customer: no tax added")
    added = tax_on_net(line.amount, rate.rate_ppm)
    return TaxedLine(line.key, line.tax_class, line.quantity, line.amount, line.amount, added, line.amount + added,
                     rate.rate_ppm, rate.name, rate.zone_code, False,
                     f"{percent(rate.rate_ppm)}{where} added to {line.amount}, rounded half up per line")


def compute(
    lines: Iterable[LineInput],
    rates: Mapping[str, TaxRate],
    *,
    prices_include_tax: bool,
    exempt: bool = False,
) -> TaxResult:
    """Tax every line with its class's rate (`rates` by class, e.g. from `rates_for`); the totals
    are the sums of the lines. A class missing from `rates` is a caller's mistake (ask `rates_for`
    for every class in the cart): ValueError rather than a guessed rate."""
    taxed: list[TaxedLine] = []
    for raw in lines:
        line = _as_line(raw)
        rate = rates.get(line.tax_class)
        if rate is None:
            raise ValueError(f"line {line.key!r}: no rate given for tax class {line.tax_class!r}")
        taxed.append(tax_line(line, rate, prices_include_tax=prices_include_tax, exempt=exempt))
    groups: dict[tuple[int, str], list[TaxedLine]] = {}
    for t in taxed:
        groups.setdefault((t.rate_ppm, t.rate_name if t.rate_ppm else ""), []).append(t)
    summary = tuple(
        TaxSummary(rate_ppm, name, sum(t.net for t in group), sum(t.tax for t in group), sum(t.gross for t in group))
        for (rate_ppm, name), group in sorted(groups.items(), key=lambda item: (-item[0][0], item[0][1]))
    )
    return TaxResult(
        lines=tuple(taxed), net=sum(t.net for t in taxed), tax=sum(t.tax for t in taxed),
        gross=sum(t.gross for t in taxed), prices_include_tax=prices_include_tax, exempt=exempt, summary=summary,
    )


# ---------------------------------------------------------------------------------------------
# zones


_POSTCODE_NOISE = re.compile(r"[\s-]+")


def normalize_postcode(value: str | None) -> str | None:
    """Upper case without spaces or dashes, so 'sw1a 1aa', 'SW1A1AA' and prefix 'SW1A' agree."""
    if value is None:
        return None
    cleaned = _POSTCODE_NOISE.sub("", value).upper()
    return cleaned or None


def normalize_region(country: str, value: str | None) -> str | None:
    """A subdivision code without its country: 'us-ny', 'US-NY' and 'NY' are all 'NY'."""
    if value is None:
        return None
    cleaned = value.strip().upper()
    prefix = f"{country.upper()}-"
    if cleaned.startswith(prefix):
        cleaned = cleaned[len(prefix):]
    return cleaned or None


@dataclass(frozen=True)
class ZoneRate:
    """A rate row of a zone that matches the address (what the provider's query returns)."""

    zone_id: uuid.UUID
    zone_code: str
    region: str | None
    postcode_prefix: str | None
    tax_class: str
    rate_ppm: int
    name: str


def zone_matches(
    zone_country: str, zone_region: str | None, zone_prefix: str | None,
    country: str, region: str | None, postal_code: str | None,
) -> bool:
    """Whether a zone covers the address (all of them normalised as above)."""
    return (
        zone_country == country
        and (zone_region is None or zone_region == region)
        and (zone_prefix is None or (postal_code is not None and postal_code.startswith(zone_prefix)))
    )


def specificity(region: str | None, postcode_prefix: str | None) -> tuple[int, int, int]:
    """Higher is more specific: a postcode prefix (longer first), then a region, then the country."""
    return (1 if postcode_prefix else 0, len(postcode_prefix or ""), 1 if region else 0)


def choose_rates(matching: Sequence[ZoneRate], tax_classes: Iterable[str]) -> dict[str, TaxRate]:
    """The rate of each class from the rate rows of the zones that match an address (the rules in
    the module doc). Ties cannot happen between distinct zones (one zone per country, region and
    prefix); the zone code breaks them anyway so the answer never depends on row order."""
    best: dict[str, ZoneRate] = {}
    for row in matching:
        held = best.get(row.tax_class)
        if held is None or (specificity(row.region, row.postcode_prefix), held.zone_code) > (
            specificity(held.region, held.postcode_prefix), row.zone_code
        ):
            best[row.tax_class] = row
    chosen: dict[str, TaxRate] = {}
    for tax_class in dict.fromkeys(tax_classes):
        if tax_class in ZERO_CLASSES:
            chosen[tax_class] = TaxRate(tax_class, 0, "zero rate" if tax_class == "zero" else "exempt",
                                        source="fixed_zero")
        elif (own := best.get(tax_class)) is not None:
            chosen[tax_class] = TaxRate(tax_class, own.rate_ppm, own.name, own.zone_id, own.zone_code, "zone")
        elif (standard := best.get(STANDARD)) is not None:
            chosen[tax_class] = TaxRate(tax_class, standard.rate_ppm, standard.name, standard.zone_id,
                                        standard.zone_code, "standard_fallback")
        else:
            chosen[tax_class] = TaxRate(tax_class, 0, "", None, None, "no_zone")
    return chosen
