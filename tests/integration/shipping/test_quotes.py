"""shipping_options / shipping_option against a real database: zone matching, channels, currencies,
warehouses, thresholds, carriers plugged in, and the demo seed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules import shipping
from mercato.modules.shipping import service
from mercato.modules.shipping.service import AreaData, MethodData, RateData, ZoneData
from tests.integration.catalog.factories import channel_ids
from tests.integration.inventory.factories import make_warehouse


async def zone(session: AsyncSession, code: str, *areas: AreaData, channels: tuple[uuid.UUID, ...] = (),
               priority: int = 0, is_active: bool = True) -> uuid.UUID:
    created = await service.create_zone(session, ZoneData(code=code, name=code.upper(), areas=areas,
                                                          channel_ids=tuple(map(str, channels)),
                                                          priority=priority, is_active=is_active))
    return created.id


async def method(session: AsyncSession, zone_id: uuid.UUID, code: str, *rates: RateData, kind: Any = "flat",
                 days: tuple[int, int] = (2, 4), **extra: Any) -> uuid.UUID:
    created = await service.create_method(session, MethodData(
        zone_id=str(zone_id), code=code, name=code.title(), kind=kind, rates=rates, min_days=days[0],
        max_days=days[1], **extra))
    return created.id


@pytest.fixture
async def channels(session: AsyncSession) -> dict[str, uuid.UUID]:
    return await channel_ids(session)


def asker(session: AsyncSession, channel: uuid.UUID, currency: str = "EUR") -> Callable[..., Any]:
    async def ask(country: str, postal_code: str | None = None, *, region: str | None = None, subtotal: int = 1000,
                  weight_grams: int = 500, warehouse_ids: list[uuid.UUID] | None = None) -> list[tuple[str, int]]:
        options = await shipping.shipping_options(
            session, channel_id=channel, currency=currency, country=country, region=region,
            postal_code=postal_code, subtotal=subtotal, weight_grams=weight_grams, warehouse_ids=warehouse_ids)
        return [(o.code, o.price) for o in options]
    return ask


async def test_the_most_specific_zone_answers_by_postcode_and_region(
    session: AsyncSession, channels: dict[str, uuid.UUID]
) -> None:
    gb = await zone(session, "gb", AreaData("GB"))
    await method(session, gb, "mainland", RateData("GBP", amount=399))
    remote = await zone(session, "gb-remote", AreaData("GB", postal_prefix="BT"), AreaData("GB", postal_prefix="hs"))
    await method(session, remote, "islands", RateData("GBP", amount=699))
    us = await zone(session, "us", AreaData("US"))
    await method(session, us, "contiguous", RateData("GBP", amount=999))
    alaska = await zone(session, "us-ak", AreaData("US", region="US-AK"))
    await method(session, alaska, "alaska", RateData("GBP", amount=1999))
    de_north = await zone(session, "de-north", AreaData("DE", postal_from="20000", postal_to="29999"))
    await method(session, de_north, "north", RateData("GBP", amount=1))
    ask = asker(session, channels["web-gb"], "GBP")

    assert await ask("GB", "SW1A 2AA") == [("mainland", 399)]
    assert await ask("gb", "bt1 1aa") == [("islands", 699)]
    assert await ask("GB", "HS1 2AB") == [("islands", 699)]
    assert await ask("GB", None) == [("mainland", 399)]
    assert await ask("US", "99501", region="AK") == [("alaska", 1999)]
    assert await ask("US", "10001", region="NY") == [("contiguous", 999)]
    assert await ask("DE", "20095") == [("north", 1)]
    assert await ask("DE", "10115") == []  # no zone holds Berlin
    assert await ask("FR", "75001") == []
    assert await ask("XX", "12345") == []  # unsupported country: nothing, no error
    assert await ask("", None) == []


async def test_channels_currencies_and_active_flags(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    eu_only = await zone(session, "de", AreaData("DE"), channels=(channels["web-eu"],))
    await method(session, eu_only, "standard", RateData("EUR", amount=490))
    await method(session, eu_only, "dual", RateData("EUR", amount=990), RateData("USD", amount=1100))
    await method(session, eu_only, "paused", RateData("EUR", amount=1), is_active=False)
    everywhere = await zone(session, "fr", AreaData("FR"))
    await method(session, everywhere, "standard", RateData("EUR", amount=690), RateData("USD", amount=790))
    closed = await zone(session, "at", AreaData("AT"), is_active=False)
    await method(session, closed, "standard", RateData("EUR", amount=1))

    assert await asker(session, channels["web-eu"])("DE") == [("standard", 490), ("dual", 990)]
    assert await asker(session, channels["web-us"], "USD")("DE") == []  # the zone is web-eu's
    assert await asker(session, channels["web-us"], "USD")("FR") == [("standard", 790)]
    assert await asker(session, channels["web-gb"], "GBP")("FR") == []  # no GBP price
    assert await asker(session, channels["web-eu"])("AT") == []


async def test_kinds_thresholds_and_order(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    de = await zone(session, "de", AreaData("DE"))
    await method(session, de, "standard", RateData("EUR", amount=490, free_over=5000), kind="free_over", days=(2, 4))
    await method(session, de, "express", RateData("EUR", weight_tiers=((5000, 1490), (31500, 2490))),
                 kind="weight_tiers", days=(1, 2))
    await method(session, de, "economy", RateData("EUR", price_tiers=((0, 490), (3000, 290))), kind="price_tiers",
                 days=(5, 8))
    ask = asker(session, channels["web-eu"])

    # equal prices: the faster first
    assert await ask("DE", subtotal=1000, weight_grams=1000) == [("standard", 490), ("economy", 490),
                                                                 ("express", 1490)]
    assert await ask("DE", subtotal=4999, weight_grams=6000) == [("economy", 290), ("standard", 490),
                                                                 ("express", 2490)]
    assert await ask("DE", subtotal=5000, weight_grams=5000) == [("standard", 0), ("economy", 290),
                                                                 ("express", 1490)]
    assert await ask("DE", subtotal=5000, weight_grams=31501) == [("standard", 0), ("economy", 290)]


async def test_availability_per_warehouse(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    berlin = await make_warehouse(session, country="DE")
    newark = await make_warehouse(session, channels=("web-us",), country="US")
    de = await zone(session, "de", AreaData("DE"))
    await method(session, de, "any", RateData("EUR", amount=500))
    await method(session, de, "berlin", RateData("EUR", amount=400), warehouse_ids=(str(berlin.id),))
    await method(session, de, "both", RateData("EUR", amount=600), warehouse_ids=(str(berlin.id), str(newark.id)))
    ask = asker(session, channels["web-eu"])

    assert await ask("DE", warehouse_ids=[berlin.id]) == [("berlin", 400), ("any", 500), ("both", 600)]
    assert await ask("DE", warehouse_ids=[newark.id]) == [("any", 500), ("both", 600)]
    assert await ask("DE", warehouse_ids=[berlin.id, newark.id]) == [("any", 500), ("both", 600)]
    assert await ask("DE", warehouse_ids=None) == [("berlin", 400), ("any", 500), ("both", 600)]


async def test_a_chosen_option_is_checked_again(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    berlin = await make_warehouse(session, country="DE")
    de = await zone(session, "de", AreaData("DE"), channels=(channels["web-eu"],))
    standard = await method(session, de, "standard", RateData("EUR", amount=490, free_over=5000), kind="free_over",
                            tax_class="reduced", carrier="DHL", days=(2, 4))
    heavy = await method(session, de, "express", RateData("EUR", weight_tiers=((5000, 1490),)), kind="weight_tiers",
                         warehouse_ids=(str(berlin.id),))
    remote = await zone(session, "de-islands", AreaData("DE", postal_prefix="18565"))
    await method(session, remote, "ferry", RateData("EUR", amount=1990))
    cart: dict[str, Any] = {"channel_id": channels["web-eu"], "currency": "EUR", "country": "DE", "region": None,
                            "postal_code": "10115", "subtotal": 6000, "weight_grams": 1000}

    chosen = await shipping.shipping_option(session, str(standard), **cart)
    assert chosen == shipping.ShippingOption(
        id=str(standard), code="standard", name="Standard", price=0, currency="EUR", min_days=2, max_days=4,
        tax_class="reduced", carrier="DHL", provider="table")
    assert (await shipping.shipping_option(session, str(standard).upper(), **cart)).id == str(standard)
    assert (await shipping.shipping_option(session, standard, **cart)).price == 0

    refusals: list[tuple[Any, dict[str, Any]]] = [
        (standard, {"postal_code": "18565"}),  # the island zone answers there
        (standard, {"channel_id": channels["web-us"]}),
        (standard, {"currency": "USD"}),
        (standard, {"country": "XX"}),
        (heavy, {"weight_grams": 5001}),
        (heavy, {"warehouse_ids": [uuid.uuid4()]}),
        (uuid.uuid4(), {}),
        ("not-an-id", {}),
        ("nobody:rate", {}),
    ]
    for option_id, change in refusals:
        with pytest.raises(shipping.ShippingOptionUnavailable) as refused:
            await shipping.shipping_option(session, str(option_id), **{**cart, **change})
        assert refused.value.code == "shipping.option_unavailable"
        assert [e.field for e in refused.value.errors] == ["shipping_option_id"]


class FakeCarrier:
    def __init__(self, rates: list[shipping.CarrierRate] | Exception) -> None:
        self._rates = rates
        self.requests: list[shipping.RateRequest] = []

    async def rates(self, request: shipping.RateRequest) -> list[shipping.CarrierRate]:
        self.requests.append(request)
        if isinstance(self._rates, Exception):
            raise self._rates
        return self._rates


@pytest.fixture
def carriers() -> Iterator[Callable[[str, FakeCarrier], None]]:
    names: list[str] = []

    def plug(name: str, carrier: FakeCarrier) -> None:
        names.append(name)
        shipping.register_provider(name, lambda _session: carrier)

    yield plug
    for name in names:
        shipping.unregister_provider(name)


async def test_carriers_plug_in(session: AsyncSession, channels: dict[str, uuid.UUID],
                                carriers: Callable[[str, FakeCarrier], None]) -> None:
    de = await zone(session, "de", AreaData("DE"))
    await method(session, de, "standard", RateData("EUR", amount=490))
    fast = shipping.CarrierRate(id="express-1", code="express", name="DHL Express", price=1290, currency="EUR",
                                min_days=1, max_days=1, carrier="DHL")
    wrong_currency = shipping.CarrierRate(id="x", code="x", name="X", price=1, currency="USD", min_days=1, max_days=1)
    dhl = FakeCarrier([fast, wrong_currency])
    carriers("dhl", dhl)
    carriers("broken", FakeCarrier(RuntimeError("carrier down")))
    with pytest.raises(ValueError, match="reserved"):
        shipping.register_provider("table", lambda _session: dhl)

    options = await shipping.shipping_options(
        session, channel_id=channels["web-eu"], currency="eur", country="de", region=None, postal_code="10115",
        subtotal=1000, weight_grams=700, warehouse_ids=[])
    assert [(o.id, o.price, o.provider) for o in options][1:] == [("dhl:express-1", 1290, "dhl")]
    assert options[0].provider == "table"
    assert (dhl.requests[-1].country, dhl.requests[-1].currency) == ("DE", "EUR")

    chosen = await shipping.shipping_option(
        session, "dhl:express-1", channel_id=channels["web-eu"], currency="EUR", country="DE", region=None,
        postal_code="10115", subtotal=1000, weight_grams=700)
    assert (chosen.name, chosen.price, chosen.carrier) == ("DHL Express", 1290, "DHL")
    with pytest.raises(shipping.ShippingOptionUnavailable):
        await shipping.shipping_option(
            session, "broken:anything", channel_id=channels["web-eu"], currency="EUR", country="DE", region=None,
            postal_code="10115", subtotal=1000, weight_grams=700)


async def test_quoting_costs_two_queries(session: AsyncSession, channels: dict[str, uuid.UUID],
                                         assert_max_queries: Callable[[int], Any]) -> None:
    for n in range(5):
        z = await zone(session, f"z{n}", AreaData("DE", postal_prefix=str(n)), AreaData("FR"))
        for m in range(4):
            await method(session, z, f"m{m}", RateData("EUR", amount=100 * m))
    await session.flush()
    with assert_max_queries(2):
        options = await asker(session, channels["web-eu"])("DE", "30001")
    assert len(options) == 4


async def test_demo_seed(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    added = await shipping.seed_demo(session)
    assert added == 7 + 14
    assert await shipping.seed_demo(session) == 0  # idempotent

    async def offered(channel: str, currency: str, country: str, postal_code: str, **cart: Any) -> list[str]:
        options = await shipping.shipping_options(
            session, channel_id=channels[channel], currency=currency, country=country, region=cart.get("region"),
            postal_code=postal_code, subtotal=cart.get("subtotal", 2000), weight_grams=cart.get("weight", 1000))
        return [f"{o.code} {o.price} {o.min_days}-{o.max_days}" for o in options]

    assert await offered("web-eu", "EUR", "DE", "10115") == ["standard 490 2-4", "express 1490 1-2"]
    assert await offered("web-eu", "EUR", "DE", "10115", subtotal=5000) == ["standard 0 2-4", "express 1490 1-2"]
    assert await offered("web-eu", "EUR", "FR", "75001") == ["standard 690 3-5", "express 1790 1-2"]
    assert await offered("web-eu", "EUR", "NL", "1011 AB") == ["standard 990 4-7", "express 2490 2-3"]
    assert await offered("web-gb", "GBP", "GB", "SW1A 2AA") == ["standard 399 2-4", "express 899 1-1"]
    assert await offered("web-gb", "GBP", "GB", "BT1 1AA") == ["standard 699 3-6", "express 1999 2-3"]
    assert await offered("web-us", "USD", "US", "10001", region="NY") == ["standard 599 3-5", "express 2499 1-2"]
    assert await offered("web-us", "USD", "US", "99501", region="AK") == ["standard 1999 5-10",
                                                                          "express 4999 2-4"]
    assert await offered("web-us", "USD", "DE", "10115") == []  # web-eu's zone
