"""POST /store/carts/{id}/checkout over HTTP: the order, its stock and payment, and every way it
can be refused — each leaving the cart, the stock and the coupons as they were."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.fixtures.http import problem
from tests.integration.cart.helpers import DE_ADDRESS, TRACKED_STOCK, Shop, add, make_shop, new_cart, read
from tests.integration.catalog.review_factories import make_customers
from tests.integration.checkout.helpers import checkout, paying, ready_cart


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    return await make_shop(session)



async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).scalar()


async def stock_of(session: AsyncSession, variant: uuid.UUID) -> tuple[int, int]:
    """(reserved, allocated) of the variant across its buckets."""
    row = (await session.execute(text("""
        SELECT coalesce(sum(b.reserved), 0), coalesce(sum(b.allocated), 0) FROM stock_buckets b
        JOIN stock_levels s ON s.id = b.stock_id WHERE s.variant_id = :v"""), {"v": variant})).one()
    return int(row[0]), int(row[1])


async def test_a_paid_checkout_creates_the_order_and_allocates_its_stock(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    cart = await ready_cart(client, [(shop.tracked, 3), (shop.mug, 2)])
    response = await checkout(client, cart["id"], key="k-paid")
    assert response.status_code == 201, response.text
    body = response.json()
    order = body["order"]
    assert set(order) >= {"id", "number", "status", "payment_status", "fulfillment_status", "currency", "lines",
                          "totals", "shipping_address", "billing_address", "created_at"}
    assert (order["status"], order["payment_status"], order["fulfillment_status"]) == (
        "confirmed", "authorized", "unfulfilled")
    assert order["currency"] == "EUR"
    assert order["totals"] == cart["totals"], "the order costs what the cart showed"
    assert sorted((line["variant_id"], line["quantity"]) for line in order["lines"]) == sorted(
        [(str(shop.tracked), 3), (str(shop.mug), 2)])
    assert order["shipping_address"]["postal_code"] == "10117"
    # The order token shows the order to a guest; the cart is closed.
    shown = await client.get(f"/store/orders/{order['id']}", params={"token": body["order_token"]})
    assert shown.status_code == 200
    assert shown.json()["id"] == order["id"]
    problem(await add(client, cart["id"], shop.mug), 409, "cart.completed")
    # The tracked units moved from held to allocated; nothing is left held for the cart.
    assert await stock_of(session, shop.tracked) == (0, 3)
    assert await scalar(session, "SELECT count(*) FROM stock_reservations WHERE reference = :r",
                        r=f"cart:{cart['id']}") == 0
    assert await scalar(session, "SELECT count(*) FROM stock_allocations WHERE reference = :r",
                        r=f"order:{order['id']}") == 1


async def test_a_declined_payment_keeps_the_cart_and_its_stock_hold(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    cart = await ready_cart(client, [(shop.tracked, 4)])
    for token in ("tok_chargeDeclined", "tok_insufficientFunds"):
        declined = await checkout(client, cart["id"], paying(token), key=f"k-{token}")
        body = problem(declined, 402, "payment.declined")
        assert body["errors"][0]["field"] == "payment"
        assert await scalar(session, "SELECT count(*) FROM orders") == 0
        assert await stock_of(session, shop.tracked) == (4, 0), "the hold survives the decline"
        assert (await read(client, cart["id"]))["lines"][0]["quantity"] == 4
    # The same key again replays the decline without charging anything.
    again = await checkout(client, cart["id"], paying("tok_visa"), key="k-tok_chargeDeclined")
    assert again.status_code == 422  # same key, different body
    paid = await checkout(client, cart["id"], key="k-other-card")
    assert paid.status_code == 201, paid.text
    assert await stock_of(session, shop.tracked) == (0, 4)


async def test_a_retried_checkout_gives_the_same_order(client: httpx.AsyncClient, session: AsyncSession,
                                                       shop: Shop) -> None:
    cart = await ready_cart(client, [(shop.tracked, 1)])
    first = await checkout(client, cart["id"], key="same")
    second = await checkout(client, cart["id"], key="same")
    assert first.status_code == second.status_code == 201
    assert first.json()["order"]["id"] == second.json()["order"]["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert await scalar(session, "SELECT count(*) FROM orders") == 1
    assert await scalar(session, "SELECT count(*) FROM payments") == 1
    # Without the key, the closed cart refuses a second order.
    problem(await checkout(client, cart["id"]), 409, "cart.completed")


async def test_stock_sold_meanwhile_refuses_the_checkout(client: httpx.AsyncClient, session: AsyncSession,
                                                         shop: Shop) -> None:
    late = await ready_cart(client, [(shop.tracked, 10)], email="late@example.com")
    early = await ready_cart(client, [(shop.tracked, TRACKED_STOCK - 5)], email="early@example.com")
    assert (await checkout(client, early["id"])).status_code == 201
    before = await read(client, late["id"])
    problem(await checkout(client, late["id"]), 409, "inventory.insufficient_stock")
    assert await scalar(session, "SELECT count(*) FROM orders") == 1
    assert (await read(client, late["id"]))["lines"] == before["lines"]
    assert await stock_of(session, shop.tracked) == (0, TRACKED_STOCK - 5)


async def test_three_d_secure_answers_202_with_the_next_action(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await ready_cart(client, [(shop.mug, 1)])
    response = await checkout(client, cart["id"], paying("tok_threeDSecureRequired"), key="3ds")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["next_action"]["type"]
    assert body["order"]["payment_status"] == "requires_action"
    assert body["order"]["status"] == "pending"


async def test_a_processing_error_changes_nothing_and_may_be_retried(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    cart = await ready_cart(client, [(shop.tracked, 1)])
    failed = problem(await checkout(client, cart["id"], paying("tok_processingError"), key="p1"), 503,
                     "payment.processing_error")
    assert failed["status"] == 503
    assert await scalar(session, "SELECT count(*) FROM orders") == 0
    assert (await checkout(client, cart["id"], key="p2")).status_code == 201


async def test_refusals_change_nothing(client: httpx.AsyncClient, session: AsyncSession, shop: Shop) -> None:
    cart = await ready_cart(client, [(shop.tracked, 1)])
    problem(await checkout(client, cart["id"], {"payment": {"gateway": "nope", "token": "tok_visa"}}), 422,
            "payment.unknown_gateway")
    problem(await checkout(client, str(uuid.uuid4())), 404, "cart.not_found")
    problem(await checkout(client, "not-a-cart"), 404, "cart.not_found")
    assert (await checkout(client, cart["id"], {"payment": {"gateway": "test"}})).status_code == 422
    empty = (await client.post("/store/carts")).json()
    problem(await checkout(client, empty["id"]), 422, "cart.empty")
    no_email = (await client.post("/store/carts")).json()
    assert (await add(client, no_email["id"], shop.mug)).status_code == 201
    problem(await checkout(client, no_email["id"]), 422, "cart.email_required")
    assert await scalar(session, "SELECT count(*) FROM orders") == 0
    assert await stock_of(session, shop.tracked) == (0, 0)


async def test_checkout_costs_a_fixed_number_of_statements(
    client: httpx.AsyncClient, shop: Shop, assert_max_queries: Any,
) -> None:
    """At most 30 statements (issue #6), the same for 1 line as for 10, with a coupon applied."""
    counts = []
    for lines in (1, 10):
        cart = await ready_cart(client, [(shop.tracked, 1), *((v, 1) for v in shop.many[: lines - 1])],
                                coupon="WELCOME10", email=f"count{lines}@example.com")
        with assert_max_queries(30) as counted:
            response = await checkout(client, cart["id"], key=f"count-{lines}")
        assert response.status_code == 201, response.text
        assert len(response.json()["order"]["lines"]) == lines
        counts.append(len(counted.statements))
    assert counts[0] == counts[1], counts


async def test_a_signed_in_customer_needs_no_email_of_the_cart(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    """The order's mail goes to the account's address unless the cart names another."""
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    account = await scalar(session, "SELECT email FROM customers WHERE id = :id", id=buyer.id)
    cart = await new_cart(client, **buyer.auth)
    assert cart["email"] == account
    assert (await add(client, cart["id"], shop.mug, 1, **buyer.auth)).status_code == 201
    details = await client.patch(f"/store/carts/{cart['id']}", json={"shipping_address": DE_ADDRESS},
                                 headers=buyer.auth)
    assert details.status_code == 200, details.text
    assert details.json()["email"] == account
    option = (await client.get(f"/store/carts/{cart['id']}/shipping-options", headers=buyer.auth)).json()[0]["id"]
    chosen = await client.put(f"/store/carts/{cart['id']}/shipping-option", json={"shipping_option_id": option},
                              headers=buyer.auth)
    assert chosen.status_code == 200, chosen.text
    placed = await checkout(client, cart["id"], key="account-email", **buyer.auth)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["email"] == account

    other = await ready_cart(client, [(shop.mug, 1)], email="gift@example.com", **buyer.auth)
    assert other["email"] == "gift@example.com"
    placed = await checkout(client, other["id"], key="cart-email", **buyer.auth)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["email"] == "gift@example.com"
