"""The cart over time: price changes shown, guest → customer merge, reservations given back when lines
change, expiry and the purge job, the abandoned-cart event, checkout's view and completion, and the
query counts of the hot paths (independent of the number of lines)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import Conflict, InvalidInput, NotFound
from mercato.kit.outbox import OutboxEvent
from mercato.kit.settings import Settings
from mercato.modules import cart as cart_module
from mercato.modules import inventory
from mercato.modules.cart import sweeps
from mercato.modules.cart.models import Cart
from mercato.modules.catalog.models import VariantPrice
from tests.integration.cart.helpers import DE_ADDRESS, Shop, add, amounts, make_shop, new_cart, read
from tests.integration.catalog.review_factories import make_customers


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    return await make_shop(session)


async def test_a_price_change_since_a_line_was_changed_is_shown(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    cart = await new_cart(client)
    line = (await add(client, cart["id"], shop.mug, 1)).json()["lines"][0]
    assert line["price_changed"] is False
    assert line["previous_unit_price"] is None
    await session.execute(update(VariantPrice).where(VariantPrice.variant_id == shop.mug,
                                                     VariantPrice.channel_id == shop.channels["web-eu"])
                          .values(amount=1200))
    await session.commit()
    shown = (await read(client, cart["id"]))["lines"][0]
    assert shown["price_changed"] is True
    assert shown["unit_price"]["amount"] == 1200
    assert shown["previous_unit_price"] == {"amount": 1000, "currency": "EUR"}
    # Changing the line acknowledges the new price.
    changed = await client.patch(f"/store/carts/{cart['id']}/lines/{line['id']}", json={"quantity": 2})
    assert changed.json()["lines"][0]["price_changed"] is False
    assert (await read(client, cart["id"]))["lines"][0]["price_changed"] is False


async def test_a_guest_cart_merges_into_the_customers_within_limits(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (customer,) = await make_customers(session, settings)
    await session.commit()
    mine = (await client.post("/store/carts", headers=customer.auth)).json()
    await add(client, mine["id"], shop.mug, 2, **customer.auth)
    await add(client, mine["id"], shop.limited, 4, **customer.auth)
    guest = await new_cart(client)
    await add(client, guest["id"], shop.mug, 3)
    await add(client, guest["id"], shop.limited, 3)
    await add(client, guest["id"], shop.tracked, 1)
    await client.patch(f"/store/carts/{guest['id']}", json={"email": "guest@example.com"})
    await client.post(f"/store/carts/{guest['id']}/coupons", json={"code": "WELCOME10"})

    problem = await client.post(f"/store/carts/{guest['id']}/merge")
    assert problem.status_code == 401
    merged = await client.post(f"/store/carts/{guest['id']}/merge", headers=customer.auth)
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["id"] == mine["id"]
    quantities = {line["variant_id"]: line["quantity"] for line in body["lines"]}
    assert quantities == {str(shop.mug): 5, str(shop.limited): 5, str(shop.tracked): 1}  # socks capped at 5
    assert body["email"] == "guest@example.com"
    assert body["coupons"] == ["WELCOME10"]
    assert (await client.get(f"/store/carts/{guest['id']}")).status_code == 404
    assert (await read(client, mine["id"], **customer.auth))["lines"] == body["lines"]


async def test_merging_without_a_customer_cart_makes_the_guest_cart_theirs(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (customer,) = await make_customers(session, settings)
    await session.commit()
    guest = await new_cart(client)
    await add(client, guest["id"], shop.mug, 1)
    merged = await client.post(f"/store/carts/{guest['id']}/merge", headers=customer.auth)
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == guest["id"]
    assert merged.json()["customer_id"] == str(customer.id)
    assert (await client.get(f"/store/carts/{guest['id']}")).status_code == 404  # no longer a guest's
    again = await client.post("/store/carts", headers=customer.auth)
    assert again.status_code == 200
    assert again.json()["id"] == guest["id"]


async def test_changing_lines_gives_back_what_a_checkout_reserved(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    cart = await new_cart(client)
    await add(client, cart["id"], shop.tracked, 3)
    reference = f"cart:{cart['id']}"
    await inventory.reserve(session, reference=reference, lines=[inventory.ReserveLine(shop.tracked, 3)],
                            channel_id=shop.channels["web-eu"], country=None, ttl=timedelta(minutes=15), actor="test")
    await session.commit()
    assert len(await inventory.reservations(session, reference)) == 1
    # The cart's own hold counts as available to it: 20 units, 3 of them held by this very cart.
    assert (await add(client, cart["id"], shop.tracked, 17)).status_code == 200
    assert await inventory.reservations(session, reference) == []


async def test_expired_carts_are_gone_and_purged(client: httpx.AsyncClient, session: AsyncSession, shop: Shop) -> None:
    old = await new_cart(client)
    await add(client, old["id"], shop.mug, 1)
    fresh = await new_cart(client)
    created = (await read(client, fresh["id"]))["expires_at"]
    assert created > (utcnow() + timedelta(days=29)).isoformat()[:10]
    await session.execute(update(Cart).where(Cart.id == uuid.UUID(old["id"]))
                          .values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    assert (await client.get(f"/store/carts/{old['id']}")).status_code == 404
    assert (await add(client, old["id"], shop.mug, 1)).status_code == 404
    assert await sweeps.purge_expired(session) == 1
    remaining = set((await session.execute(select(Cart.id))).scalars())
    assert uuid.UUID(old["id"]) not in remaining
    assert uuid.UUID(fresh["id"]) in remaining


async def test_customer_carts_live_longer_than_guest_carts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (customer,) = await make_customers(session, settings)
    await session.commit()
    guest = await new_cart(client)
    mine = (await client.post("/store/carts", headers=customer.auth)).json()
    rows = dict((await session.execute(select(Cart.id, Cart.expires_at - Cart.updated_at))).all())
    assert rows[uuid.UUID(guest["id"])] == timedelta(days=30)
    assert rows[uuid.UUID(mine["id"])] == timedelta(days=90)


async def _abandoned(session: AsyncSession) -> list[dict[str, Any]]:
    return [e.payload for e in (await session.execute(
        select(OutboxEvent).where(OutboxEvent.name == "cart.abandoned").order_by(OutboxEvent.id))).scalars()]


async def test_an_idle_cart_with_an_email_is_reported_abandoned_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    with_email = await new_cart(client)
    await add(client, with_email["id"], shop.mug, 2)
    await client.patch(f"/store/carts/{with_email['id']}", json={"email": "shopper@example.com"})
    no_email = await new_cart(client)
    await add(client, no_email["id"], shop.mug, 1)
    empty = await new_cart(client)
    await client.patch(f"/store/carts/{empty['id']}", json={"email": "empty@example.com"})
    later = utcnow() + timedelta(hours=25)
    assert await sweeps.notice_abandoned(session, now=utcnow() + timedelta(hours=23)) == 0
    assert await sweeps.notice_abandoned(session, now=later) == 1
    assert await sweeps.notice_abandoned(session, now=later) == 0
    (event,) = await _abandoned(session)
    assert event["cart_id"] == with_email["id"]
    assert event["email"] == "shopper@example.com"
    assert (event["quantity"], event["subtotal"], event["currency"]) == (2, 2000, "EUR")
    await session.commit()
    # A change starts a new spell of inactivity, which is reported again.
    await add(client, with_email["id"], shop.mug, 1)
    assert await sweeps.notice_abandoned(session, now=utcnow() + timedelta(hours=25)) == 1
    assert len(await _abandoned(session)) == 2


async def test_a_signed_in_customers_idle_cart_is_reported_with_the_account_email(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    account = (await session.execute(text("SELECT email FROM customers WHERE id = :id"), {"id": buyer.id})).scalar()
    cart = await new_cart(client, **buyer.auth)
    await add(client, cart["id"], shop.mug, 1, **buyer.auth)
    later = utcnow() + timedelta(hours=25)
    assert await sweeps.notice_abandoned(session, now=later) == 1
    (event,) = await _abandoned(session)
    assert (event["cart_id"], event["customer_id"], event["email"]) == (cart["id"], str(buyer.id), account)
    assert event["last_activity_at"].endswith("Z")


async def _ready_for_checkout(client: httpx.AsyncClient, shop: Shop) -> dict[str, Any]:
    cart = await new_cart(client)
    await add(client, cart["id"], shop.tracked, 2)
    await add(client, cart["id"], shop.mug, 1)
    url = f"/store/carts/{cart['id']}"
    await client.patch(url, json={"email": "buyer@example.com", "shipping_address": DE_ADDRESS})
    option = (await client.get(f"{url}/shipping-options")).json()[1]["id"]  # express, not free
    await client.put(f"{url}/shipping-option", json={"shipping_option_id": option})
    return dict((await client.post(f"{url}/coupons", json={"code": "WELCOME10"})).json())


async def test_checkout_view_prices_the_cart_like_the_cart_shows_it(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    shown = await _ready_for_checkout(client, shop)
    view = await cart_module.checkout_view(session, uuid.UUID(shown["id"]), principal_customer_id=None, lock=True)
    assert view.totals == amounts(shown)
    assert view.totals["total"] == view.totals["subtotal"] - view.totals["discount"] + view.totals["shipping"]
    assert view.tax_included
    assert view.currency == "EUR"
    assert view.email == "buyer@example.com"
    assert view.billing_address == view.shipping_address
    assert view.shipping_option["name"] == "Express"
    assert view.coupons == ["WELCOME10"]
    assert view.reservation_reference == f"cart:{shown['id']}"
    assert [line.quantity for line in view.lines] == [2, 1]
    assert sum(line.total for line in view.lines) + view.shipping_option["price"] == view.totals["total"]
    assert "WELCOME10" in view.promotions.applied_codes
    assert view.cart["totals"] == shown["totals"]


@pytest.mark.parametrize(("missing", "code"), [
    ("lines", "cart.empty"), ("email", "cart.email_required"), ("address", "cart.shipping_address_required"),
    ("option", "cart.shipping_option_required"),
])
async def test_checkout_view_says_what_is_missing(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, missing: str, code: str,
) -> None:
    cart = await new_cart(client)
    url = f"/store/carts/{cart['id']}"
    if missing != "lines":
        await add(client, cart["id"], shop.mug, 1)
    if missing not in {"lines", "email"}:
        await client.patch(url, json={"email": "a@example.com"})
    if missing == "option":
        await client.patch(url, json={"shipping_address": DE_ADDRESS})
    with pytest.raises(InvalidInput) as raised:
        await cart_module.checkout_view(session, uuid.UUID(cart["id"]), principal_customer_id=None, lock=True)
    assert raised.value.code == code


async def test_checkout_view_refuses_stock_that_is_gone_and_other_peoples_carts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    shown = await _ready_for_checkout(client, shop)
    await inventory.reserve(session, reference="cart:someone-else", lines=[inventory.ReserveLine(shop.tracked, 19)],
                            channel_id=shop.channels["web-eu"], country=None, ttl=timedelta(minutes=15), actor="test")
    with pytest.raises(Conflict) as raised:
        await cart_module.checkout_view(session, uuid.UUID(shown["id"]), principal_customer_id=None, lock=True)
    assert raised.value.code == "inventory.insufficient_stock"
    (customer,) = await make_customers(session, settings)
    mine = (await client.post("/store/carts", headers=customer.auth)).json()
    with pytest.raises(NotFound) as hidden:
        await cart_module.checkout_view(session, uuid.UUID(mine["id"]), principal_customer_id=None, lock=False)
    assert hidden.value.code == "cart.not_found"


async def test_a_completed_cart_refuses_changes(client: httpx.AsyncClient, session: AsyncSession, shop: Shop) -> None:
    shown = await _ready_for_checkout(client, shop)
    order_id = uuid.uuid4()
    await cart_module.mark_completed(session, uuid.UUID(shown["id"]), order_id)
    await session.commit()
    refused = await add(client, shown["id"], shop.mug, 1)
    assert refused.status_code == 409
    assert refused.json()["code"] == "cart.completed"
    assert (await client.post(f"/store/carts/{shown['id']}/coupons", json={"code": "X"})).json()["code"] == \
        "cart.completed"
    assert (await read(client, shown["id"]))["status"] == "completed"
    with pytest.raises(Conflict):
        await cart_module.mark_completed(session, uuid.UUID(shown["id"]), order_id)
    row = (await session.execute(text("SELECT order_id FROM carts WHERE id = :id"), {"id": shown["id"]})).scalar()
    assert row == order_id


@pytest.mark.parametrize("lines", [1, 10])
async def test_adding_a_line_and_reading_the_cart_cost_a_fixed_number_of_queries(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
    assert_max_queries: Callable[[int], Any], lines: int,
) -> None:
    """The worst case short of a hold to give back (rare: after a checkout that did not complete; the
    release is the inventory module's): a customer's cart with an address (tax), a chosen option
    (quoted again on every change: two statements) and a coupon."""
    (customer,) = await make_customers(session, settings)
    await session.commit()
    auth = customer.auth
    cart = (await client.post("/store/carts", headers=auth)).json()
    url = f"/store/carts/{cart['id']}"
    for variant in shop.many[:lines]:
        await add(client, cart["id"], variant, 1, **auth)
    await client.patch(url, json={"shipping_address": DE_ADDRESS}, headers=auth)
    option = (await client.get(f"{url}/shipping-options", headers=auth)).json()[0]["id"]
    await client.put(f"{url}/shipping-option", json={"shipping_option_id": option}, headers=auth)
    await client.post(f"{url}/coupons", json={"code": "WELCOME10"}, headers=auth)

    with assert_max_queries(5) as counted:
        body = await read(client, cart["id"], **auth)
    assert len(counted.statements) == 3  # cart with lines and their prices, promotions, tax rates
    assert len(body["lines"]) == lines
    assert body["tax_calculated"]
    with assert_max_queries(8) as counted:
        added = await add(client, cart["id"], shop.mug, 1, **auth)
    assert len(counted.statements) == 7  # + the lock (with generic plans), the option quoted again (2), the write
    assert added.status_code == 201, added.text
    assert len(added.json()["lines"]) == lines + 1
    assert added.json()["coupons"] == ["WELCOME10"]
    assert added.json()["shipping_option"]["id"] == option
    with assert_max_queries(8):
        again = await add(client, cart["id"], shop.mug, 1, **auth)
    assert again.status_code == 200
