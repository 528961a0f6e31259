"""Shipping options for a cart: the shop's own table rates plus any carrier plugged in.

`shipping_options` lists what the cart may choose; `shipping_option` checks a chosen id again (at
checkout, or when the address or the cart changed) and refuses one that no longer applies with 422
`shipping.option_unavailable`. The table provider costs two index-backed queries whatever the
number of zones and methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from mercato.kit.ids import parse_id
from mercato.kit.sql import Executor, Statement
from mercato.modules.shipping.carriers import (
    TABLE,
    CarrierRate,
    CarrierRateProvider,
    RateRequest,
    registered_providers,
)
from mercato.modules.shipping.errors import ShippingOptionUnavailable
from mercato.modules.shipping.rules import (
    Area,
    Kind,
    MethodRates,
    Rate,
    Tier,
    ZoneCandidate,
    pick_zone,
    quote,
    ships_from,
)
from mercato.modules.shipping.service import COUNTRIES

_log = structlog.get_logger("mercato.shipping")


@dataclass(frozen=True)
class ShippingOption:
    """A way the cart can ship. `id` is what the storefront sends back to choose it: the method id
    for the shop's own methods, "<carrier>:<rate id>" for a plugged-in carrier. `price` in minor
    units of `currency`, entered as the channel enters prices (tax-inclusive or not); the tax
    module taxes it under `tax_class`."""

    id: str
    code: str
    name: str
    price: int
    currency: str
    min_days: int
    max_days: int
    tax_class: str
    carrier: str | None
    provider: str


_ZONES = Statement("""
SELECT z.id, z.code, z.priority, a.country_code, a.region, a.postal_prefix, a.postal_from, a.postal_to
FROM shipping_zones z JOIN shipping_zone_areas a ON a.zone_id = z.id
WHERE a.country_code = :country AND z.is_active
  AND (cardinality(z.channel_ids) = 0 OR CAST(:channel_id AS uuid) = ANY(z.channel_ids))
""")
_METHODS = Statement("""
SELECT m.id, m.code, m.name, m.carrier, m.kind, m.min_days, m.max_days, m.tax_class, m.warehouse_ids,
       r.amount, r.free_over, r.tiers
FROM shipping_methods m JOIN shipping_method_rates r ON r.method_id = m.id AND r.currency = :currency
WHERE m.zone_id = :zone_id AND m.is_active
""")


class TableRateProvider:
    """Rates from the shop's zones and methods (see rules.py for which zone answers and what a method costs)."""

    def __init__(self, session: Executor) -> None:
        self._session = session

    async def _zones(self, request: RateRequest) -> list[ZoneCandidate]:
        rows = await _ZONES.fetch(self._session, country=request.country, channel_id=request.channel_id)
        zones: dict[uuid.UUID, tuple[str, int, list[Area]]] = {}
        for row in rows:
            zones.setdefault(row.id, (row.code, row.priority, []))[2].append(
                Area(row.country_code, row.region, row.postal_prefix, row.postal_from, row.postal_to))
        return [ZoneCandidate(zone_id, code, priority, tuple(areas))
                for zone_id, (code, priority, areas) in zones.items()]

    async def rates(self, request: RateRequest) -> list[CarrierRate]:
        zone = pick_zone(await self._zones(request), country=request.country, region=request.region,
                         postal_code=request.postal_code)
        if zone is None:
            return []
        rows = await _METHODS.fetch(self._session, currency=request.currency, zone_id=zone.zone_id)
        found: list[CarrierRate] = []
        for row in rows:
            if not ships_from(row.warehouse_ids, request.warehouse_ids):
                continue
            kind: Kind = row.kind
            rate = Rate(row.amount, row.free_over, tuple(Tier(int(b), int(a)) for b, a in row.tiers))
            price = quote(MethodRates(kind, {request.currency: rate}), subtotal=request.subtotal,
                          weight_grams=request.weight_grams, currency=request.currency)
            if price is None:
                continue
            found.append(CarrierRate(
                id=str(row.id), code=row.code, name=row.name, price=price, currency=request.currency,
                min_days=row.min_days, max_days=row.max_days, carrier=row.carrier, tax_class=row.tax_class,
            ))
        return found


def _request(
    *, channel_id: uuid.UUID, currency: str, country: str, region: str | None, postal_code: str | None,
    subtotal: int, weight_grams: int, warehouse_ids: Sequence[uuid.UUID] | None,
) -> RateRequest | None:
    if subtotal < 0 or weight_grams < 0:
        raise ValueError("subtotal and weight are never negative")
    country = country.strip().upper()
    if country not in COUNTRIES:
        return None  # the cart refuses unsupported countries; here they simply have no options
    return RateRequest(channel_id=channel_id, currency=currency.upper(), country=country, region=region,
                       postal_code=postal_code, subtotal=subtotal, weight_grams=weight_grams,
                       warehouse_ids=tuple(warehouse_ids) if warehouse_ids is not None else None)


def _option(provider: str, rate: CarrierRate) -> ShippingOption:
    option_id = rate.id if provider == TABLE else f"{provider}:{rate.id}"
    return ShippingOption(id=option_id, code=rate.code, name=rate.name, price=rate.price, currency=rate.currency,
                          min_days=rate.min_days, max_days=rate.max_days, tax_class=rate.tax_class,
                          carrier=rate.carrier, provider=provider)


async def _ask(name: str, provider: CarrierRateProvider, request: RateRequest) -> list[ShippingOption]:
    if name == TABLE:
        return [_option(name, rate) for rate in await provider.rates(request)]
    try:
        rates = await provider.rates(request)
    except Exception:  # a carrier's outage or bug must not take the other options with it
        _log.warning("carrier_rates_failed", provider=name, exc_info=True)
        return []
    # What the cart cannot use is dropped rather than trusted: another currency, a negative price.
    return [_option(name, r) for r in rates
            if r.currency == request.currency and r.price >= 0 and 0 <= r.min_days <= r.max_days]


def _order(option: ShippingOption) -> tuple[int, int, int, str, str]:
    return (option.price, option.min_days, option.max_days, option.name, option.id)


async def shipping_options(
    session: Executor,
    *,
    channel_id: uuid.UUID,
    currency: str,
    country: str,
    region: str | None,
    postal_code: str | None,
    subtotal: int,
    weight_grams: int,
    warehouse_ids: Sequence[uuid.UUID] | None = None,
) -> list[ShippingOption]:
    """The options for a cart of `subtotal` (minor units of `currency`, as the cart shows it) and
    `weight_grams`, shipping from `warehouse_ids` (None: not known yet), to the address; cheapest
    first, then fastest. An unsupported country has none."""
    request = _request(channel_id=channel_id, currency=currency, country=country, region=region,
                       postal_code=postal_code, subtotal=subtotal, weight_grams=weight_grams,
                       warehouse_ids=warehouse_ids)
    if request is None:
        return []
    options = await _ask(TABLE, TableRateProvider(session), request)
    for name, factory in registered_providers().items():
        options += await _ask(name, factory(session), request)
    return sorted(options, key=_order)


async def shipping_option(
    session: Executor,
    option_id: str | uuid.UUID,
    *,
    channel_id: uuid.UUID,
    currency: str,
    country: str,
    region: str | None,
    postal_code: str | None,
    subtotal: int,
    weight_grams: int,
    warehouse_ids: Sequence[uuid.UUID] | None = None,
) -> ShippingOption:
    """The option `option_id` priced for this cart and address; one that does not apply to them
    (unknown, inactive, another zone or channel, too heavy, no price in the currency, not shipped
    from the cart's warehouses) → 422 `shipping.option_unavailable`. Asks only the provider that
    offered the option."""
    wanted = str(option_id)
    request = _request(channel_id=channel_id, currency=currency, country=country, region=region,
                       postal_code=postal_code, subtotal=subtotal, weight_grams=weight_grams,
                       warehouse_ids=warehouse_ids)
    name = wanted.partition(":")[0] if ":" in wanted else TABLE
    if name == TABLE and (parsed := parse_id(wanted)) is not None:
        wanted = str(parsed)  # the same id however it is spelled (upper case, braces)
    factory = TableRateProvider if name == TABLE else registered_providers().get(name)
    if request is None or factory is None:
        raise ShippingOptionUnavailable()
    for option in await _ask(name, factory(session), request):
        if option.id == wanted:
            return option
    raise ShippingOptionUnavailable()
