"""First-order promotions in the cart, over HTTP: they apply to a signed-in customer who has no order
yet, not to one who has ordered (through a checkout or however an order came to be), and not to a
guest, who cannot prove a first order."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules import orders
from tests.integration.cart.helpers import US_ADDRESS, Shop, add, make_shop, new_cart, read
from tests.integration.catalog import review_factories
from tests.integration.catalog.factories import channel_ids
from tests.integration.catalog.review_factories import make_customers
from tests.integration.checkout.helpers import checkout, ready_cart
from tests.integration.promotions.factories import make_promotion

FIRST_ORDER = "First order: 10 % off"
FIRST_CODE = "HELLO"


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    shop = await make_shop(session)
    await make_promotion(session, name=FIRST_ORDER, conditions={"first_order_only": True})
    await make_promotion(session, name="Coupon for a first order", codes=(FIRST_CODE,),
                         conditions={"first_order_only": True}, currency="EUR",
                         benefit={"kind": "fixed_amount", "amount": 200, "per": "order"})
    await session.commit()
    return shop


def applied(cart: dict[str, Any]) -> list[str]:
    return [p["name"] for p in cart["promotions"]]


async def mug_cart(client: httpx.AsyncClient, shop: Shop, **headers: str) -> dict[str, Any]:
    """A cart with one mug (10.00 EUR: below the demo spend thresholds, so only ours can apply)."""
    cart = await new_cart(client, **headers)
    added = await add(client, cart["id"], shop.mug, 1, **headers)
    assert added.status_code == 201, added.text
    return dict(added.json())


async def test_a_customer_without_orders_gets_the_first_order_promotion(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    cart = await mug_cart(client, shop, **buyer.auth)
    assert applied(cart) == [FIRST_ORDER]
    assert cart["totals"]["discount"]["amount"] == 100
    assert cart["totals"]["total"]["amount"] == 900
    assert applied(await read(client, cart["id"], **buyer.auth)) == [FIRST_ORDER]
    with_code = await client.post(f"/store/carts/{cart['id']}/coupons", json={"code": FIRST_CODE},
                                  headers=buyer.auth)
    assert with_code.status_code == 200, with_code.text
    assert with_code.json()["coupons"] == [FIRST_CODE]


async def test_a_guest_does_not_get_it(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await mug_cart(client, shop)
    assert applied(cart) == []
    assert cart["totals"]["discount"]["amount"] == 0
    refused = await client.post(f"/store/carts/{cart['id']}/coupons", json={"code": FIRST_CODE})
    assert refused.status_code == 422
    assert refused.json()["code"] == "promotion.not_eligible"
    assert (await read(client, cart["id"]))["coupons"] == []


async def test_the_first_order_gets_it_and_the_next_does_not(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    first = await ready_cart(client, [(shop.mug, 1)], **buyer.auth)
    assert FIRST_ORDER in applied(first)
    placed = await checkout(client, first["id"], key="first", **buyer.auth)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["totals"] == first["totals"], "the order kept the first-order discount"

    second = await mug_cart(client, shop, **buyer.auth)
    assert second["id"] != first["id"]
    assert applied(second) == []
    assert second["totals"]["discount"]["amount"] == 0
    refused = await client.post(f"/store/carts/{second['id']}/coupons", json={"code": FIRST_CODE},
                                headers=buyer.auth)
    assert refused.status_code == 422
    assert refused.json()["code"] == "promotion.not_eligible"


async def test_any_order_counts_even_one_placed_after_the_coupon_was_taken(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    cart = await mug_cart(client, shop, **buyer.auth)
    taken = await client.post(f"/store/carts/{cart['id']}/coupons", json={"code": FIRST_CODE}, headers=buyer.auth)
    assert taken.status_code == 200, taken.text
    assert sorted(applied(taken.json())) == sorted([FIRST_ORDER, "Coupon for a first order"])

    await place_order_directly(session, buyer)
    await session.commit()
    shown = await read(client, cart["id"], **buyer.auth)
    assert applied(shown) == []
    assert shown["totals"]["discount"]["amount"] == 0
    assert [(p["code"], p["reason"]) for p in shown["coupon_problems"]] == [(FIRST_CODE, "promotion.not_eligible")]


async def place_order_directly(session: AsyncSession, customer: review_factories.TestCustomer) -> None:
    """An order the customer placed elsewhere (the other channel, the back office): pending, unpaid."""
    channel = (await channel_ids(session))["web-us"]
    line = orders.OrderLineDraft(variant_id=uuid.uuid4(), product_id=uuid.uuid4(), sku="X", name="Elsewhere",
                                 quantity=1, unit_price=500, subtotal=500, discount=0, tax=0, total=500,
                                 tax_rate_ppm=0, breakdown=[])
    await orders.create_order(session, orders.OrderDraft(
        channel_id=channel, currency="USD", customer_id=customer.id, email="jane@example.com",
        shipping_address=US_ADDRESS, billing_address=US_ADDRESS, shipping_option=None, lines=[line],
        totals={"subtotal": 500, "discount": 0, "shipping": 0, "tax": 0, "total": 500}, breakdown=[], coupons=[],
        cart_id=None, prices_include_tax=False))

