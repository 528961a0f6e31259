"""Shipping rates: zones (countries, regions, postcode prefixes and ranges), methods per zone (flat,
weight tiers, price tiers, free over a threshold) priced per currency, delivery estimates, the
warehouses each method ships from, and a carrier-rate provider interface.

For the cart and checkout:

    options = await shipping.shipping_options(
        session, channel_id=..., currency="EUR", country="DE", region=None, postal_code="10115",
        subtotal=4200, weight_grams=1200, warehouse_ids=[...])       # cheapest first, then fastest
    chosen = await shipping.shipping_option(session, option_id, channel_id=..., ...)  # same arguments

`subtotal` is in minor units of `currency`, as the cart shows it (after discounts, before
shipping): free-over thresholds and price tiers compare against it. `warehouse_ids`: where the
cart's lines ship from (None or empty: not known, no limit). An unsupported country yields no
options. `shipping_option` raises `ShippingOptionUnavailable` (422 `shipping.option_unavailable`)
when the option does not apply to this address and cart. `ShippingOption.price` is entered as the
channel enters prices (tax-inclusive or not) and carries the `tax_class` the tax module applies.

Carriers: implement `CarrierRateProvider` and `register_provider(name, factory)` (carriers.py).
Demo data: `seed_demo(session)`.
"""

from mercato.modules.shipping.carriers import CarrierRate as CarrierRate
from mercato.modules.shipping.carriers import CarrierRateProvider as CarrierRateProvider
from mercato.modules.shipping.carriers import RateRequest as RateRequest
from mercato.modules.shipping.carriers import register_provider as register_provider
from mercato.modules.shipping.carriers import registered_providers as registered_providers
from mercato.modules.shipping.carriers import unregister_provider as unregister_provider
from mercato.modules.shipping.errors import ShippingOptionUnavailable as ShippingOptionUnavailable
from mercato.modules.shipping.quotes import ShippingOption as ShippingOption
from mercato.modules.shipping.quotes import TableRateProvider as TableRateProvider
from mercato.modules.shipping.quotes import shipping_option as shipping_option
from mercato.modules.shipping.quotes import shipping_options as shipping_options
from mercato.modules.shipping.rules import quote as quote
from mercato.modules.shipping.seed import seed_demo as seed_demo
