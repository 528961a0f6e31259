"""The composed pricing engine: a cart's lines, discounts, shipping and tax become per-line and
order totals, each with a breakdown that explains it. Pure: no I/O.

The steps, in this order (each one's input is the previous one's output):
  1. **Unit price**: the channel's base price, replaced by a price-list / contract / quantity-tier
     price when one applies (`rules.unit_price`, via `resolve_prices`). `subtotal = unit × quantity`.
  2. **Promotions**: the discounts `promotions.evaluate` granted, per line (order-level discounts
     arrive already allocated to the lines), plus a shipping discount (free shipping). A line's
     discount never exceeds its subtotal; the shipping discount never exceeds the shipping price.
  3. **Shipping**: the chosen option's price, entered like the channel's prices (gross or net).
  4. **Tax**: `tax_rules.compute` on each line's amount after its discounts and on the shipping
     after its discount, per line, rounded half up (see `tax_rules`). Nothing here re-implements tax.

Order totals (all integer minor units):
  subtotal  Σ line subtotals (unit × quantity, before promotions)
  discount  Σ line discounts + the shipping discount
  shipping  the shipping price before its discount
  tax       Σ tax of the lines and the shipping
  total     what the buyer pays

The invariant, exact to the minor unit:
  * prices exclude tax (US):  total = subtotal − discount + shipping + tax
  * prices include tax (EU):  total = subtotal − discount + shipping, and `tax` is the part of that
    total that is tax (`tax_included` is true; it is reported, never added)
  * tax-exempt buyer on tax-inclusive prices: the contained tax is removed, so
    total = subtotal − discount + shipping − tax_removed (and tax = 0); with exclusive prices an
    exempt buyer simply pays no tax (total = subtotal − discount + shipping).

A line's `total` is what that line costs the buyer tax included (exclusive: after-discount amount +
its tax; inclusive: the after-discount amount). The sum of the line totals plus the shipping's
gross is the order total.

Explainability: every line carries a breakdown whose non-informational entries add up to its total
(base price, price-list difference, each discount with its source, tax when added), and the order
carries one whose entries add up to the order total.

Determinism: lines are processed in key order, so the same input in any order gives the same result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mercato.modules.pricing.tax_rules import SHIPPING_KEY, TaxLine, TaxRate, TaxResult, compute, percent, shipping_line

PriceSource = Literal["base", "price_list"]


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True, kw_only=True)
class PricedLine:
    """A cart line after step 1. `base_unit_price` is the channel's price; `unit_price` what the
    price resolution chose (equal to the base when no price list applies)."""

    key: str
    quantity: int
    base_unit_price: int
    unit_price: int
    tax_class: str
    price_source: PriceSource = "base"
    price_list_id: uuid.UUID | None = None
    price_explanation: str = ""

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"line {self.key!r}: quantity must be at least 1")
        if self.unit_price < 0 or self.base_unit_price < 0:
            raise ValueError(f"line {self.key!r}: prices must not be negative")
        if self.key == SHIPPING_KEY:
            raise ValueError(f"{SHIPPING_KEY!r} is reserved for the shipping line")

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, kw_only=True)
class Discount:
    """One discount granted by a promotion (promotions.Adjustment in the engine's own terms)."""

    source_id: uuid.UUID
    name: str
    amount: int
    benefit: str
    level: str = "line"  # line | order (a line's share of an order discount) | shipping
    code: str | None = None


@dataclass(frozen=True, kw_only=True)
class Discounts:
    """What the promotions granted: per line key, the order-level discounts (for the order's
    breakdown; their shares are in `per_line`), and the shipping discounts."""

    per_line: Mapping[str, Sequence[Discount]] = field(default_factory=dict)
    order: Sequence[Discount] = ()
    shipping: Sequence[Discount] = ()


@dataclass(frozen=True, kw_only=True)
class Shipping:
    amount: int
    tax_class: str
    name: str = ""
    option_id: str | None = None


# ---------------------------------------------------------------------------------------------
# outputs


@dataclass(frozen=True)
class Entry:
    """One step of a breakdown. `amount` is signed (a discount is negative). `informational`
    entries (tax contained in an inclusive price) explain but are not added."""

    kind: str
    name: str
    amount: int
    source_id: str | None = None
    informational: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "amount": self.amount, "source_id": self.source_id,
                "informational": self.informational, **self.detail}


@dataclass(frozen=True)
class LineTotals:
    key: str
    quantity: int
    unit_price: int
    subtotal: int
    discount: int
    net: int  # after discounts, before tax added (inclusive prices: the after-discount amount less its tax)
    tax: int
    total: int
    tax_rate_ppm: int
    breakdown: tuple[Entry, ...]


@dataclass(frozen=True)
class OrderTotals:
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    tax_included: bool
    tax_removed: int = 0  # exempt buyer on inclusive prices: the tax taken out of the prices

    def as_dict(self) -> dict[str, int]:
        return {"subtotal": self.subtotal, "discount": self.discount, "shipping": self.shipping, "tax": self.tax,
                "total": self.total}


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineTotals, ...]
    totals: OrderTotals
    breakdown: tuple[Entry, ...]
    shipping_discount: int
    shipping_tax: int
    tax_computed: bool  # False: no rates given (no address yet), tax not known
    tax: TaxResult | None

    def line(self, key: str) -> LineTotals:
        for found in self.lines:
            if found.key == key:
                return found
        raise KeyError(key)


# ---------------------------------------------------------------------------------------------
# the engine


def _line_entries(line: PricedLine, discounts: Sequence[Discount]) -> list[Entry]:
    entries = [Entry("base_price", "channel price", line.base_unit_price * line.quantity, None,
                     detail={"unit_amount": line.base_unit_price, "quantity": line.quantity})]
    if line.price_source == "price_list" and line.unit_price != line.base_unit_price:
        entries.append(Entry("price_list", line.price_explanation or "price list",
                             (line.unit_price - line.base_unit_price) * line.quantity,
                             str(line.price_list_id) if line.price_list_id else None,
                             detail={"unit_amount": line.unit_price}))
    entries.extend(Entry("promotion", d.name, -d.amount, str(d.source_id),
                         detail={"code": d.code, "benefit": d.benefit, "level": d.level})
                   for d in discounts)
    return entries


def _check_discounts(lines: Sequence[PricedLine], discounts: Discounts, shipping: Shipping | None) -> None:
    keys = {line.key for line in lines}
    unknown = set(discounts.per_line) - keys
    if unknown:
        raise ValueError(f"discounts for unknown lines: {sorted(unknown)}")
    for line in lines:
        taken = sum(d.amount for d in discounts.per_line.get(line.key, ()))
        if any(d.amount < 0 for d in discounts.per_line.get(line.key, ())) or taken > line.subtotal:
            raise ValueError(f"line {line.key!r}: discounts must be positive and at most the line's subtotal")
    shipped = shipping.amount if shipping is not None else 0
    taken_off_shipping = sum(d.amount for d in discounts.shipping)
    if any(d.amount < 0 for d in discounts.shipping) or taken_off_shipping > shipped:
        raise ValueError("the shipping discount must be positive and at most the shipping price")


def price(
    lines: Iterable[PricedLine],
    *,
    discounts: Discounts | None = None,
    shipping: Shipping | None = None,
    rates: Mapping[str, TaxRate] | None,
    prices_include_tax: bool,
    exempt: bool = False,
) -> Totals:
    """Totals of a cart (see the module doc). `rates` by tax class (every class of the lines and
    the shipping), or None when the address is not known yet: tax is then not computed (0)."""
    ordered = sorted(lines, key=lambda line: line.key)
    if len({line.key for line in ordered}) != len(ordered):
        raise ValueError("line keys must be unique")
    granted = discounts or Discounts()
    if shipping is not None and shipping.amount < 0:
        raise ValueError("the shipping price must not be negative")
    _check_discounts(ordered, granted, shipping)
    line_discount = {line.key: sum(d.amount for d in granted.per_line.get(line.key, ())) for line in ordered}
    shipping_amount = shipping.amount if shipping is not None else 0
    shipping_discount = sum(d.amount for d in granted.shipping)
    shipping_charged = shipping_amount - shipping_discount

    tax_lines = [TaxLine(line.key, line.subtotal - line_discount[line.key], line.tax_class, line.quantity)
                 for line in ordered]
    if shipping is not None:
        tax_lines.append(shipping_line(shipping_charged, shipping.tax_class))
    result: TaxResult | None = None
    if rates is not None:
        result = compute(tax_lines, rates, prices_include_tax=prices_include_tax, exempt=exempt)

    priced: list[LineTotals] = []
    for line, tax_line in zip(ordered, tax_lines, strict=False):
        amount = tax_line.amount
        entries = _line_entries(line, granted.per_line.get(line.key, ()))
        if result is None:
            net, tax, gross, rate_ppm = amount, 0, amount, 0
        else:
            taxed = result.line(line.key)
            net, tax, gross, rate_ppm = taxed.net, taxed.tax, taxed.gross, taxed.rate_ppm
            entries.append(_tax_entry(taxed.tax, taxed.rate_ppm, taxed.rate_name, amount - taxed.gross,
                                      prices_include_tax=prices_include_tax, exempt=exempt))
        priced.append(LineTotals(line.key, line.quantity, line.unit_price, line.subtotal, line_discount[line.key],
                                 net, tax, gross, rate_ppm, tuple(entries)))

    shipping_tax, shipping_gross, shipping_removed = 0, shipping_charged, 0
    if result is not None and shipping is not None:
        taxed_shipping = result.line(SHIPPING_KEY)
        shipping_tax, shipping_gross = taxed_shipping.tax, taxed_shipping.gross
        shipping_removed = shipping_charged - taxed_shipping.gross if exempt and prices_include_tax else 0

    subtotal = sum(line.subtotal for line in priced)
    discount = sum(line.discount for line in priced) + shipping_discount
    tax = sum(line.tax for line in priced) + shipping_tax
    total = sum(line.total for line in priced) + shipping_gross
    removed = sum(line.subtotal - line.discount - line.total for line in priced) + shipping_removed \
        if exempt and prices_include_tax and result is not None else 0
    included = prices_include_tax and result is not None and not exempt
    totals = OrderTotals(subtotal, discount, shipping_amount, tax, total, included, removed)
    breakdown = _order_entries(priced, granted, shipping, result, prices_include_tax=prices_include_tax,
                               exempt=exempt, removed=removed)
    return Totals(tuple(priced), totals, breakdown, shipping_discount, shipping_tax, result is not None, result)


def _tax_entry(tax: int, rate_ppm: int, rate_name: str, removed: int, *, prices_include_tax: bool,
               exempt: bool) -> Entry:
    if exempt:
        # Inclusive prices: the contained tax leaves the price (a negative entry); exclusive: nothing added.
        return Entry("tax_exemption", "tax-exempt buyer", -removed if prices_include_tax else 0, None,
                     detail={"rate_name": rate_name})
    label = _tax_label(rate_name, rate_ppm)
    return Entry("tax", label, tax, None, informational=prices_include_tax,
                 detail={"rate_ppm": rate_ppm, "included": prices_include_tax})


def _tax_label(rate_name: str, rate_ppm: int) -> str:
    """The rate as named ('DE VAT 19%'), with the rate added when the name leaves it out ('VAT 19%');
    'no tax' at 0 %."""
    if not rate_ppm:
        return "no tax"
    rate = percent(rate_ppm)
    return rate_name if rate_name.endswith(rate) else f"{rate_name} {rate}".strip()


def _order_entries(
    lines: Sequence[LineTotals], granted: Discounts, shipping: Shipping | None, result: TaxResult | None, *,
    prices_include_tax: bool, exempt: bool, removed: int,
) -> tuple[Entry, ...]:
    """Subtotal, each promotion (line-level ones summed per source), shipping and its discount,
    tax per rate: the non-informational amounts add up to the order total."""
    entries = [Entry("subtotal", "items", sum(line.subtotal for line in lines))]
    per_source: dict[tuple[str, str | None], list[Entry]] = {}
    for line in lines:
        for entry in line.breakdown:
            if entry.kind == "promotion":
                per_source.setdefault((str(entry.source_id), entry.detail.get("code")), []).append(entry)
    for (source_id, code), found in sorted(per_source.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        first = found[0]
        entries.append(Entry("promotion", first.name, sum(e.amount for e in found), source_id,
                             detail={"code": code, "benefit": first.detail.get("benefit"),
                                     "level": first.detail.get("level")}))
    if shipping is not None:
        entries.append(Entry("shipping", shipping.name or "shipping", shipping.amount, shipping.option_id))
        entries.extend(Entry("promotion", d.name, -d.amount, str(d.source_id),
                             detail={"code": d.code, "benefit": d.benefit, "level": "shipping"})
                       for d in granted.shipping)
    if result is not None:
        if exempt:
            if prices_include_tax and removed:
                entries.append(Entry("tax_exemption", "tax-exempt buyer: tax removed", -removed))
        else:
            entries.extend(Entry("tax", _tax_label(s.rate_name, s.rate_ppm),
                                 s.tax, None, informational=prices_include_tax,
                                 detail={"rate_ppm": s.rate_ppm, "net": s.net, "included": prices_include_tax})
                           for s in result.summary)
    return tuple(entries)


def explained_total(entries: Iterable[Entry]) -> int:
    """The sum a breakdown explains: its non-informational amounts."""
    return sum(entry.amount for entry in entries if not entry.informational)
