"""Storefront availability: `in_stock` of /store/products and /store/products/{id} follows stock per
channel (and cached product pages are dropped when it flips); /store/availability per channel and
destination country, with quantities, backorders, preorders and click-and-collect points."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.db import Database, run_after_commit, take_after_commit
from mercato.kit.settings import Settings
from mercato.modules import catalog
from mercato.modules.catalog import stock_hooks
from mercato.modules.catalog.models import Product, Variant
from mercato.modules.channels.models import Channel
from mercato.modules.inventory import stock
from mercato.modules.inventory.models import Availability, InventoryItem, Warehouse
from tests.integration.catalog.factories import VariantSpec, channel_ids, make_product, refresh

TRACKED = {"web-eu": 2500, "web-us": 2900}


async def _warehouse(session: AsyncSession, code: str, country: str, channels: list[str], *, city: str,
                     ship_countries: tuple[str, ...] = (), click_and_collect: bool = False, priority: int = 100,
                     is_active: bool = True) -> uuid.UUID:
    ids = await channel_ids(session)
    warehouse = Warehouse(
        code=code, name=f"{city} warehouse", country_code=country, priority=priority, is_active=is_active,
        address={"line1": "1 Dock Road", "city": city, "postal_code": "1000", "country_code": country},
        click_and_collect=click_and_collect, channel_ids=[ids[c] for c in channels],
        ship_countries=list(ship_countries),
    )
    session.add(warehouse)
    await session.flush()
    return warehouse.id


async def _receive(session: AsyncSession, variant_id: uuid.UUID, warehouse_id: uuid.UUID, units: int) -> None:
    await stock.change_on_hand(session, variant_id=variant_id, warehouse_id=warehouse_id, delta=units,
                               kind="receipt", actor="test")


async def _lamp(session: AsyncSession) -> tuple[Product, Variant, Variant]:
    """Two tracked variants priced in web-eu and web-us, no stock yet."""
    product = await make_product(session, "Desk lamp", slug="desk-lamp", variants=[
        VariantSpec(TRACKED, sku="LAMP-RED", name="Red", options={"colour": "Red"}, track_inventory=True),
        VariantSpec(TRACKED, sku="LAMP-BLUE", name="Blue", options={"colour": "Blue"}, track_inventory=True),
    ])
    await refresh(session, [product])
    red, blue = (await session.execute(
        select(Variant).where(Variant.product_id == product.id).order_by(Variant.position))).scalars().all()
    return product, red, blue


async def _listed(client: httpx.AsyncClient, channel: str = "web-eu", **params: str) -> dict[str, bool]:
    response = await client.get("/store/products", params={"channel": channel, **params})
    assert response.status_code == 200, response.text
    return {item["slug"]: item["in_stock"] for item in response.json()["items"]}


async def _detail(client: httpx.AsyncClient, channel: str = "web-eu") -> tuple[bool, dict[str, bool]]:
    response = await client.get("/store/products/desk-lamp", params={"channel": channel})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["in_stock"], {v["sku"]: v["in_stock"] for v in body["variants"]}


async def _commit(session: AsyncSession) -> None:
    """Commit and run what waits for the commit (as the request's unit of work does)."""
    await session.commit()
    await run_after_commit(take_after_commit(session))


@pytest.fixture
def app_cache_for_jobs(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stock changes made outside a request drop cached pages through the process cache, which
    reaches the app's cache through Redis or the cache bus in production; here it is the app's."""
    monkeypatch.setattr(stock_hooks, "_process_cache", lambda: app.state.cache)


# ---------------------------------------------------------------------------------------------
# in_stock of the catalogue


async def test_product_lists_and_pages_follow_stock_per_channel(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, red, _ = await _lamp(session)
    poster = await make_product(session, "Poster", slug="poster", prices=TRACKED)  # does not track inventory
    await refresh(session, [poster])
    berlin = await _warehouse(session, "berlin", "DE", ["web-eu"], city="Berlin")
    await session.commit()
    assert await _listed(client) == {"desk-lamp": False, "poster": True}
    assert await _listed(client, in_stock="false") == {"desk-lamp": False}

    await _receive(session, red.id, berlin, 3)
    await session.commit()
    assert await _listed(client) == {"desk-lamp": True, "poster": True}
    assert await _listed(client, in_stock="false") == {}
    # Berlin does not serve the US channel.
    assert await _listed(client, "web-us") == {"desk-lamp": False, "poster": True}
    assert await _detail(client) == (True, {"LAMP-RED": True, "LAMP-BLUE": False})
    assert await _detail(client, "web-us") == (False, {"LAMP-RED": False, "LAMP-BLUE": False})

    await stock.change_on_hand(session, variant_id=red.id, warehouse_id=berlin, set_on_hand=0, kind="adjustment",
                               actor="test", reason="broken")
    await session.commit()
    assert await _listed(client) == {"desk-lamp": False, "poster": True}


async def test_a_stock_flip_drops_the_cached_product_page(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any],
    app_cache_for_jobs: None,
) -> None:
    _, red, blue = await _lamp(session)
    berlin = await _warehouse(session, "berlin", "DE", ["web-eu"], city="Berlin")
    await session.commit()
    assert await _detail(client) == (False, {"LAMP-RED": False, "LAMP-BLUE": False})
    with assert_max_queries(0):  # cached
        assert await _detail(client) == (False, {"LAMP-RED": False, "LAMP-BLUE": False})

    await _receive(session, red.id, berlin, 2)
    await _commit(session)
    assert await _detail(client) == (True, {"LAMP-RED": True, "LAMP-BLUE": False})

    # Only a variant flips (the product stays in stock): the page still changes.
    await _receive(session, blue.id, berlin, 1)
    await _commit(session)
    assert await _detail(client) == (True, {"LAMP-RED": True, "LAMP-BLUE": True})

    # A change that flips nothing leaves the cached page alone.
    await _receive(session, blue.id, berlin, 5)
    await _commit(session)
    with assert_max_queries(0):
        assert await _detail(client) == (True, {"LAMP-RED": True, "LAMP-BLUE": True})

    # Selling out through reservations flips it back.
    await stock.reserve(session, reference="cart:1", lines=[stock.ReserveLine(red.id, 2)],
                        channel_id=(await channel_ids(session))["web-eu"], country=None, ttl=timedelta(minutes=15))
    await _commit(session)
    assert await _detail(client) == (True, {"LAMP-RED": False, "LAMP-BLUE": True})


async def test_stock_changed_takes_the_callers_cache_and_lists_in_two_statements(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, assert_max_queries: Callable[[int], Any]
) -> None:
    product, red, _ = await _lamp(session)
    eu = (await channel_ids(session))["web-eu"]
    await session.commit()
    assert (await _detail(client))[0] is False
    # What the inventory module does when a variant becomes sellable, written by hand.
    session.add(Availability(variant_id=red.id, channel_id=eu, sellable=True))
    await session.flush()
    with assert_max_queries(2):
        await catalog.stock_changed(session, [red.id, red.id], cache=app.state.cache)
    await _commit(session)
    assert await _detail(client) == (True, {"LAMP-RED": True, "LAMP-BLUE": False})
    assert (await _listed(client))["desk-lamp"] is True
    with assert_max_queries(0):
        await catalog.stock_changed(session, [])
    # Unknown variants change nothing.
    await catalog.stock_changed(session, [uuid.uuid4()], cache=app.state.cache)
    assert take_after_commit(session) == []
    assert product.id  # the product is still there


# ---------------------------------------------------------------------------------------------
# /store/availability


async def _availability(client: httpx.AsyncClient, *ids: uuid.UUID | str, **params: str) -> httpx.Response:
    return await client.get("/store/availability", params=[("variant_id", str(i)) for i in ids] + list(params.items()))


def _by_id(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {item["variant_id"]: item for item in response.json()["items"]}


async def test_availability_quantities_points_and_unknown_ids(
    client: httpx.AsyncClient, session: AsyncSession, assert_max_queries: Callable[[int], Any]
) -> None:
    _, red, blue = await _lamp(session)
    poster = await make_product(session, "Poster", slug="poster", prices=TRACKED)
    draft = await make_product(session, "Draft", status="draft", variants=[VariantSpec(TRACKED, track_inventory=True)])
    us_only = await make_product(session, "US only", variants=[VariantSpec({"web-us": 100}, track_inventory=True)])
    await refresh(session)
    berlin = await _warehouse(session, "berlin", "DE", ["web-eu"], city="Berlin", click_and_collect=True, priority=1)
    paris = await _warehouse(session, "paris", "FR", ["web-eu"], city="Paris", click_and_collect=True, priority=2)
    hamburg = await _warehouse(session, "hamburg", "DE", ["web-eu"], city="Hamburg", click_and_collect=True,
                               is_active=False)
    newark = await _warehouse(session, "newark", "US", ["web-us"], city="Newark", click_and_collect=True)
    lyon = await _warehouse(session, "lyon", "FR", ["web-eu"], city="Lyon")  # no click-and-collect
    await _receive(session, red.id, berlin, 150)
    await _receive(session, red.id, paris, 4)
    await _receive(session, red.id, lyon, 1)
    await _receive(session, red.id, hamburg, 50)  # inactive: does not count
    await _receive(session, red.id, newark, 70)  # another channel: does not count
    await _receive(session, blue.id, paris, 3)
    await stock.reserve(session, reference="cart:9", lines=[stock.ReserveLine(blue.id, 3)],
                        channel_id=(await channel_ids(session))["web-eu"], country=None, ttl=timedelta(minutes=15))
    poster_variant = (await session.execute(select(Variant.id).where(Variant.product_id == poster.id))).scalar_one()
    draft_variant = (await session.execute(select(Variant.id).where(Variant.product_id == draft.id))).scalar_one()
    us_variant = (await session.execute(select(Variant.id).where(Variant.product_id == us_only.id))).scalar_one()
    await session.commit()
    nowhere = uuid.uuid4()

    with assert_max_queries(1):
        response = await _availability(client, blue.id, red.id, poster_variant, nowhere, red.id, draft_variant,
                                       us_variant)
    assert response.headers["cache-control"] == "private, max-age=5"
    body = response.json()
    assert [item["variant_id"] for item in body["items"]] == [str(blue.id), str(red.id), str(poster_variant)]
    assert body["unknown"] == [str(nowhere), str(draft_variant), str(us_variant)]
    items = _by_id(response)
    assert items[str(red.id)] == {
        "variant_id": str(red.id), "in_stock": True, "available_quantity": 99, "backorder": False,
        "preorder_release_at": None,
        "click_and_collect": [{"warehouse_id": str(berlin), "name": "Berlin warehouse", "city": "Berlin"},
                              {"warehouse_id": str(paris), "name": "Paris warehouse", "city": "Paris"}],
    }
    # All three units are held by a cart.
    assert items[str(blue.id)] | {"click_and_collect": None} == {
        "variant_id": str(blue.id), "in_stock": False, "available_quantity": 0, "backorder": False,
        "preorder_release_at": None, "click_and_collect": None}
    assert items[str(blue.id)]["click_and_collect"] == []
    assert items[str(poster_variant)] == {
        "variant_id": str(poster_variant), "in_stock": True, "available_quantity": None, "backorder": False,
        "preorder_release_at": None, "click_and_collect": []}

    us = _by_id(await _availability(client, red.id, us_variant, channel="web-us"))
    assert us[str(red.id)]["available_quantity"] == 70
    assert us[str(red.id)]["click_and_collect"] == [{"warehouse_id": str(newark), "name": "Newark warehouse",
                                                     "city": "Newark"}]
    assert us[str(us_variant)]["in_stock"] is False

    # A hundred ids, one statement.
    with assert_max_queries(1):
        many = await _availability(client, *([red.id] + [uuid.uuid4() for _ in range(99)]))
    assert len(many.json()["unknown"]) == 99


async def test_availability_per_destination_country(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _, red, blue = await _lamp(session)
    # Paris ships only to France; Berlin to every country of its channel.
    paris = await _warehouse(session, "paris", "FR", ["web-eu"], city="Paris", ship_countries=("FR",),
                             click_and_collect=True)
    berlin = await _warehouse(session, "berlin", "DE", ["web-eu"], city="Berlin")
    await _receive(session, red.id, paris, 5)
    await _receive(session, blue.id, berlin, 2)
    await _receive(session, blue.id, paris, 1)
    await session.commit()

    anywhere = _by_id(await _availability(client, red.id, blue.id))
    france = _by_id(await _availability(client, red.id, blue.id, country="FR"))
    germany = _by_id(await _availability(client, red.id, blue.id, country="DE"))
    assert (anywhere[str(red.id)]["in_stock"], anywhere[str(red.id)]["available_quantity"]) == (True, 5)
    assert (france[str(red.id)]["in_stock"], france[str(red.id)]["available_quantity"]) == (True, 5)
    assert (germany[str(red.id)]["in_stock"], germany[str(red.id)]["available_quantity"]) == (False, 0)
    assert germany[str(red.id)]["click_and_collect"] == []
    assert [anywhere[str(blue.id)]["available_quantity"], france[str(blue.id)]["available_quantity"],
            germany[str(blue.id)]["available_quantity"]] == [3, 3, 2]


async def test_backorders_preorders_and_safety_stock(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _, red, blue = await _lamp(session)
    kettle = await make_product(session, "Kettle", variants=[VariantSpec(TRACKED, track_inventory=True)])
    await refresh(session, [kettle])
    kettle_variant = (await session.execute(select(Variant.id).where(Variant.product_id == kettle.id))).scalar_one()
    berlin = await _warehouse(session, "berlin", "DE", ["web-eu"], city="Berlin", click_and_collect=True)
    release = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    session.add_all([InventoryItem(variant_id=red.id, backorder_limit=5),
                     InventoryItem(variant_id=blue.id, preorder_release_at=release, preorder_cap=10)])
    await session.flush()
    for variant in (red.id, blue.id):
        await stock.ensure_stock(session, variant, berlin)
        await stock.apply_policy(session, variant)
    await _receive(session, kettle_variant, berlin, 3)
    await stock.update_stock_settings(session, variant_id=kettle_variant, warehouse_id=berlin, safety_stock=3)
    await session.commit()

    items = _by_id(await _availability(client, red.id, blue.id, kettle_variant))
    # Nothing on the shelf, but it can be ordered: on backorder...
    assert {k: items[str(red.id)][k] for k in ("in_stock", "available_quantity", "backorder", "click_and_collect")} \
        == {"in_stock": True, "available_quantity": 0, "backorder": True, "click_and_collect": []}
    # ...or on preorder until its release.
    assert (items[str(blue.id)]["in_stock"], items[str(blue.id)]["backorder"]) == (True, False)
    assert items[str(blue.id)]["preorder_release_at"].replace("Z", "+00:00") == release.isoformat()
    # Safety stock is not for sale.
    assert (items[str(kettle_variant)]["in_stock"], items[str(kettle_variant)]["available_quantity"]) == (False, 0)
    # The product pages say the same.
    assert await _detail(client) == (True, {"LAMP-RED": True, "LAMP-BLUE": True})

    await _receive(session, red.id, berlin, 2)
    await session.commit()
    red_now = _by_id(await _availability(client, red.id))[str(red.id)]
    assert (red_now["available_quantity"], red_now["backorder"]) == (2, False)
    assert red_now["click_and_collect"] != []


@pytest.mark.parametrize(("params", "status", "code", "field"), [
    ([], 422, "validation.invalid", "query.variant_id"),
    ([("variant_id", "not-an-id")], 422, "validation.invalid", "query.variant_id.0"),
    ([("variant_id", str(uuid.uuid4()))] * 101, 422, "validation.invalid", "query.variant_id"),
    ([("variant_id", str(uuid.uuid4())), ("channel", "mars")], 404, "channel.not_found", None),
    ([("variant_id", str(uuid.uuid4())), ("channel", "web-off")], 404, "channel.not_found", None),
    ([("variant_id", str(uuid.uuid4())), ("channel", "x" * 51)], 422, "validation.invalid", "query.channel"),
    ([("variant_id", str(uuid.uuid4())), ("country", "XX")], 422, "validation.invalid", "query.country"),
    ([("variant_id", str(uuid.uuid4())), ("country", "de")], 422, "validation.invalid", "query.country"),
    ([("variant_id", str(uuid.uuid4())), ("country", "DEU")], 422, "validation.invalid", "query.country"),
    ([("variant_id", str(uuid.uuid4())), ("country", "US")], 422, "inventory.invalid", "query.country"),
])
async def test_availability_refuses_bad_requests(
    client: httpx.AsyncClient, session: AsyncSession, params: list[tuple[str, str]], status: int, code: str,
    field: str | None,
) -> None:
    ids = await channel_ids(session)
    session.add(Warehouse(code="berlin", name="Berlin", country_code="DE", address={}, channel_ids=[ids["web-eu"]],
                          ship_countries=[]))
    session.add(Channel(code="web-off", name="Off", currency="EUR", default_country="DE", countries=["DE"],
                        is_active=False))
    await session.commit()
    response = await client.get("/store/availability", params=params)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem


async def test_two_variants_selling_out_at_once_leave_the_product_out_of_stock(
    settings: Settings, fresh_database: Callable[[], str]
) -> None:
    """Each transaction flips one variant; neither may compute the product from the other's old state."""
    db = Database.connect(fresh_database(), settings, pool_size=2, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            _, red, blue = await _lamp(session)
            eu = (await channel_ids(session))["web-eu"]
            session.add_all([Availability(variant_id=red.id, channel_id=eu, sellable=True),
                             Availability(variant_id=blue.id, channel_id=eu, sellable=True)])
            await session.flush()
            await catalog.stock_changed(session, [red.id, blue.id])
        listed = text("SELECT in_stock FROM product_listings l JOIN channels c ON c.id = l.channel_id "
                      "WHERE c.code = 'web-eu'")
        async with db.sessionmaker() as session:
            assert await session.scalar(listed) is True

        async def sell_out(session: AsyncSession, variant_id: uuid.UUID) -> None:
            await session.execute(text("UPDATE inventory_availability SET sellable = false WHERE variant_id = :v"),
                                  {"v": variant_id})
            await catalog.stock_changed(session, [variant_id])

        async with db.sessionmaker() as first, db.sessionmaker() as second:
            await first.begin()
            await second.begin()
            await sell_out(first, red.id)  # holds the product's listing rows, still sees blue in stock
            await second.execute(text("UPDATE inventory_availability SET sellable = false WHERE variant_id = :v"),
                                 {"v": blue.id})
            waiting = asyncio.create_task(catalog.stock_changed(second, [blue.id]))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # waits for the first transaction's lock
            await first.commit()
            await waiting
            await second.commit()
        async with db.sessionmaker() as session:
            assert await session.scalar(listed) is False
    finally:
        await db.dispose()
