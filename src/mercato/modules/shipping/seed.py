"""Demo shipping: zones for the demo channels' countries with two methods each (standard and
express), showing every kind of rate, a postcode override (Northern Ireland and the Scottish
islands) and a region override (Alaska and Hawaii)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules import channels
from mercato.modules.shipping import service
from mercato.modules.shipping.models import ShippingZone
from mercato.modules.shipping.rules import Kind
from mercato.modules.shipping.service import AreaData, MethodData, RateData, ZoneData


@dataclass(frozen=True)
class _Method:
    code: str
    name: str
    carrier: str
    kind: Kind
    min_days: int
    max_days: int
    rate: RateData


@dataclass(frozen=True)
class _Zone:
    code: str
    name: str
    channel: str
    areas: tuple[AreaData, ...]
    methods: tuple[_Method, ...]


def _flat(currency: str, amount: int) -> RateData:
    return RateData(currency, amount=amount)


DEMO_ZONES = (
    _Zone("de", "Germany", "web-eu", (AreaData("DE"),), (
        _Method("standard", "Standard (free from €50)", "DHL", "free_over", 2, 4,
                RateData("EUR", amount=490, free_over=5000)),
        _Method("express", "Express", "DHL Express", "weight_tiers", 1, 2,
                RateData("EUR", weight_tiers=((5000, 1490), (31500, 2490)))),
    )),
    _Zone("fr", "France", "web-eu", (AreaData("FR"),), (
        _Method("standard", "Standard", "Colissimo", "price_tiers", 3, 5,
                RateData("EUR", price_tiers=((0, 690), (5000, 390), (10000, 0)))),
        _Method("express", "Express", "Chronopost", "flat", 1, 2, _flat("EUR", 1790)),
    )),
    _Zone("eu", "Rest of the EU", "web-eu", tuple(AreaData(c) for c in ("NL", "BE", "AT", "IT", "ES")), (
        _Method("standard", "Standard", "DHL", "flat", 4, 7, _flat("EUR", 990)),
        _Method("express", "Express", "UPS", "flat", 2, 3, _flat("EUR", 2490)),
    )),
    _Zone("gb", "United Kingdom", "web-gb", (AreaData("GB"),), (
        _Method("standard", "Standard (free from £40)", "Royal Mail", "free_over", 2, 4,
                RateData("GBP", amount=399, free_over=4000)),
        _Method("express", "Next day", "DPD", "flat", 1, 1, _flat("GBP", 899)),
    )),
    _Zone("gb-remote", "Northern Ireland and Scottish islands", "web-gb",
          tuple(AreaData("GB", postal_prefix=p) for p in ("BT", "HS", "ZE")), (
        _Method("standard", "Standard", "Royal Mail", "flat", 3, 6, _flat("GBP", 699)),
        _Method("express", "Express", "DPD", "flat", 2, 3, _flat("GBP", 1999)),
    )),
    _Zone("us", "United States", "web-us", (AreaData("US"),), (
        _Method("standard", "Standard", "USPS", "weight_tiers", 3, 5,
                RateData("USD", weight_tiers=((1000, 599), (5000, 999), (30000, 1999)))),
        _Method("express", "2-day", "UPS", "weight_tiers", 1, 2,
                RateData("USD", weight_tiers=((5000, 2499), (30000, 3999)))),
    )),
    _Zone("us-remote", "Alaska and Hawaii", "web-us", (AreaData("US", region="AK"), AreaData("US", region="HI")), (
        _Method("standard", "Standard", "USPS", "flat", 5, 10, _flat("USD", 1999)),
        _Method("express", "Express", "UPS", "flat", 2, 4, _flat("USD", 4999)),
    )),
)


async def seed_demo(session: AsyncSession) -> int:
    """Create the demo zones (and their methods) whose code no zone has yet, for the demo channels
    that exist; a zone already there is the shop's and left alone. Flushes, never commits. Returns
    rows added (zones and methods)."""
    added = 0
    for demo in DEMO_ZONES:
        if await session.scalar(select(exists().where(ShippingZone.code == demo.code))):
            continue
        channel = await channels.channel_by_code(session, demo.channel, active_only=False)
        if channel is None:
            continue
        zone = await service.create_zone(session, ZoneData(
            code=demo.code, name=demo.name, areas=demo.areas, channel_ids=(str(channel.id),)))
        added += 1
        for m in demo.methods:
            await service.create_method(session, MethodData(
                zone_id=str(zone.id), code=m.code, name=m.name, kind=m.kind, rates=(m.rate,), min_days=m.min_days,
                max_days=m.max_days, carrier=m.carrier))
            added += 1
    return added
