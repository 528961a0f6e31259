"""Pricing: customer groups, price lists and quantity tiers (`resolve_prices`), and tax.

Tax, for the cart and checkout:
  * `rates_for(session, country=, region=, postal_code=, tax_classes=, provider=None)` → {class: TaxRate}:
    the rate of each class at a shipping address (one query). No zone there → rate 0, `zone_code=None`.
    `provider_named(settings.tax_provider)` gives the configured `TaxProvider` (MERCATO_TAX_PROVIDER).
  * `compute(lines, rates, prices_include_tax=, exempt=)` → TaxResult: net, tax and gross per line and
    in total, rounded per line half up; `lines` are `TaxLine(key, amount, tax_class, quantity)` (or
    such tuples) with `amount` the line total after discounts; add shipping with `shipping_line(amount,
    tax_class)`. `exempt=True` (B2B with a VAT id): no tax, and tax-inclusive prices lose their tax.
  * `seed_tax_demo(session)`: demo VAT and US sales-tax zones (idempotent).
The rules are in `tax_rules`' module doc.
"""

from mercato.modules.pricing.rules import Candidate as Candidate
from mercato.modules.pricing.rules import PriceResolution as PriceResolution
from mercato.modules.pricing.rules import unit_price as unit_price
from mercato.modules.pricing.service import OFFER_SQL as OFFER_SQL
from mercato.modules.pricing.service import PriceLine as PriceLine
from mercato.modules.pricing.service import price_from_offer as price_from_offer
from mercato.modules.pricing.service import resolve_prices as resolve_prices
from mercato.modules.pricing.tax_rules import STANDARD as STANDARD_TAX_CLASS
from mercato.modules.pricing.tax_rules import TaxedLine as TaxedLine
from mercato.modules.pricing.tax_rules import TaxLine as TaxLine
from mercato.modules.pricing.tax_rules import TaxRate as TaxRate
from mercato.modules.pricing.tax_rules import TaxResult as TaxResult
from mercato.modules.pricing.tax_rules import TaxSummary as TaxSummary
from mercato.modules.pricing.tax_rules import compute as compute
from mercato.modules.pricing.tax_rules import shipping_line as shipping_line
from mercato.modules.pricing.tax_seed import seed_demo as seed_tax_demo
from mercato.modules.pricing.tax_service import TableTaxProvider as TableTaxProvider
from mercato.modules.pricing.tax_service import TaxAddress as TaxAddress
from mercato.modules.pricing.tax_service import TaxProvider as TaxProvider
from mercato.modules.pricing.tax_service import provider_named as provider_named
from mercato.modules.pricing.tax_service import rates_for as rates_for

__all__ = [
    "OFFER_SQL", "STANDARD_TAX_CLASS", "Candidate", "PriceLine", "PriceResolution", "TableTaxProvider",
    "TaxAddress", "TaxLine", "TaxProvider", "TaxRate", "TaxResult", "TaxSummary", "TaxedLine", "compute",
    "price_from_offer", "provider_named", "rates_for", "resolve_prices", "seed_tax_demo", "shipping_line",
    "unit_price",
]

# The composed pricing engine (cart and checkout): price → promotions → shipping → tax, explained.
from mercato.modules.pricing.totals_rules import Discount as Discount
from mercato.modules.pricing.totals_rules import Discounts as Discounts
from mercato.modules.pricing.totals_rules import Entry as BreakdownEntry
from mercato.modules.pricing.totals_rules import LineTotals as LineTotals
from mercato.modules.pricing.totals_rules import OrderTotals as OrderTotals
from mercato.modules.pricing.totals_rules import PricedLine as PricedLine
from mercato.modules.pricing.totals_rules import Shipping as ShippingCharge
from mercato.modules.pricing.totals_rules import Totals as Totals
from mercato.modules.pricing.totals_rules import explained_total as explained_total
from mercato.modules.pricing.totals_rules import price as price_cart

__all__ += [
    "BreakdownEntry", "Discount", "Discounts", "LineTotals", "OrderTotals", "PricedLine", "ShippingCharge", "Totals",
    "explained_total", "price_cart",
]
