"""Pricing: customer groups, price lists and quantity tiers; `resolve_prices` for the checkout step."""

from mercato.modules.pricing.rules import Candidate as Candidate
from mercato.modules.pricing.rules import PriceResolution as PriceResolution
from mercato.modules.pricing.rules import unit_price as unit_price
from mercato.modules.pricing.service import PriceLine as PriceLine
from mercato.modules.pricing.service import resolve_prices as resolve_prices
