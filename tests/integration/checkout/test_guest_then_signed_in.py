"""A shopper fills a cart as a guest, signs in and goes on with the same cart id: the cart becomes
theirs (when they have no other), and so does the order — it shows in their order list."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.integration.cart.helpers import Shop, add, make_shop, new_cart, read
from tests.integration.catalog.review_factories import make_customers
from tests.integration.checkout.helpers import checkout, ready_cart


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    return await make_shop(session)


async def test_a_guest_cart_used_after_sign_in_becomes_the_customers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (alice,) = await make_customers(session, settings, 1)
    await session.commit()
    cart = await new_cart(client)
    assert (await add(client, cart["id"], shop.mug)).status_code == 201
    assert (await read(client, cart["id"]))["customer_id"] is None
    assert (await add(client, cart["id"], shop.mug, **alice.auth)).status_code == 200
    mine = await read(client, cart["id"], **alice.auth)
    assert mine["customer_id"] == str(alice.id)
    assert mine["lines"][0]["quantity"] == 2
    assert (await client.get(f"/store/carts/{cart['id']}")).status_code == 404, "no longer a guest's"
    again = await client.post("/store/carts", headers=alice.auth)
    assert again.json()["id"] == cart["id"], "the one active cart of the customer"


async def test_a_customer_with_a_cart_keeps_the_guest_cart_apart(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (alice,) = await make_customers(session, settings, 1)
    await session.commit()
    own = (await client.post("/store/carts", headers=alice.auth)).json()
    guest = await new_cart(client)
    assert (await add(client, guest["id"], shop.mug, **alice.auth)).status_code == 201
    assert (await read(client, guest["id"]))["customer_id"] is None, "merge joins them, explicitly"
    assert (await read(client, own["id"], **alice.auth))["lines"] == []


async def test_an_order_from_a_guest_cart_paid_signed_in_is_the_customers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (alice,) = await make_customers(session, settings, 1)
    await session.commit()
    cart = await ready_cart(client, [(shop.mug, 1)])
    placed = await checkout(client, cart["id"], key="signed-in", **alice.auth)
    assert placed.status_code == 201, placed.text
    mine = await client.get("/store/me/orders", headers=alice.auth)
    assert [order["id"] for order in mine.json()["items"]] == [placed.json()["order"]["id"]]
