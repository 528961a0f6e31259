"""A first-order promotion is given once per customer, even to checkouts placed at the same instant in
two channels (each channel has a cart of its own, so nothing else orders the two): one order carries
it; the other checkout is refused with 409 `promotion.not_eligible` (no order, no payment kept, the
cart as it was) or, when it began after the first had committed, is placed without it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from mercato.kit.settings import Settings
from tests.fixtures.live import Live
from tests.integration.cart.helpers import US_ADDRESS, add, make_shop, new_cart
from tests.integration.catalog import review_factories
from tests.integration.catalog.review_factories import make_customers
from tests.integration.checkout.helpers import checkout, ready_cart
from tests.integration.promotions.factories import make_promotion

pytestmark = pytest.mark.slow

FIRST_ORDER = "First order: 10 % off"
BUYERS = 8


async def _us_cart(client: httpx.AsyncClient, variant: Any, buyer: review_factories.TestCustomer) -> dict[str, Any]:
    cart = await new_cart(client, "web-us", **buyer.auth)
    assert (await add(client, cart["id"], variant, 1, **buyer.auth)).status_code == 201
    details = await client.patch(f"/store/carts/{cart['id']}", headers=buyer.auth,
                                 json={"email": "buyer@example.com", "shipping_address": US_ADDRESS})
    assert details.status_code == 200, details.text
    options = await client.get(f"/store/carts/{cart['id']}/shipping-options", headers=buyer.auth)
    assert options.status_code == 200, options.text
    chosen = await client.put(f"/store/carts/{cart['id']}/shipping-option", headers=buyer.auth,
                              json={"shipping_option_id": options.json()[0]["id"]})
    assert chosen.status_code == 200, chosen.text
    return dict(chosen.json())


def _applied(body: dict[str, Any]) -> list[str]:
    return [p["name"] for p in body["promotions"]]


async def _scalar(live: Live, sql: str, **params: Any) -> Any:
    async with live.db.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def test_checkouts_in_two_channels_at_once_give_the_first_order_promotion_once(
    live: Live, settings: Settings,
) -> None:
    async with live.db.sessionmaker() as session:
        shop = await make_shop(session)
        await make_promotion(session, name=FIRST_ORDER, conditions={"first_order_only": True})
        buyers = await make_customers(session, settings, BUYERS)
        await session.commit()
    client = live.client
    carts: list[tuple[review_factories.TestCustomer, dict[str, Any]]] = []
    for buyer in buyers:
        carts.append((buyer, await ready_cart(client, [(shop.mug, 1)], **buyer.auth)))
        carts.append((buyer, await _us_cart(client, shop.mug, buyer)))
    assert all(_applied(cart) == [FIRST_ORDER] for _, cart in carts), "every cart shows the promotion"

    responses = await asyncio.gather(*(checkout(client, cart["id"], key=f"race-{cart['id']}", **buyer.auth)
                                       for buyer, cart in carts))

    for n, buyer in enumerate(buyers):
        pair = responses[2 * n:2 * n + 2]
        placed = [r.json()["order"] for r in pair if r.status_code == 201]
        refused = [r for r in pair if r.status_code != 201]
        assert all(r.status_code == 409 and r.json()["code"] == "promotion.not_eligible" for r in refused), [
            r.text for r in refused]
        discounted = [o for o in placed if o["totals"]["discount"]["amount"] > 0]
        assert len(discounted) == 1, f"buyer {n}: {[o['totals'] for o in placed]}"
        redemptions = await _scalar(live, """
            SELECT count(*) FROM promotion_redemptions r JOIN promotions p ON p.id = r.promotion_id
            WHERE p.name = :name AND r.customer_id = :customer""", name=FIRST_ORDER, customer=buyer.id)
        assert redemptions == 1
        assert await _scalar(live, "SELECT count(*) FROM orders WHERE customer_id = :c", c=buyer.id) == len(placed)

    refused_carts = [pair for pair, r in zip(carts, responses, strict=True) if r.status_code == 409]
    assert refused_carts, "the checkouts of a pair overlapped: one of each was refused"
    assert await _scalar(live, "SELECT count(*) FROM payments") == await _scalar(live, "SELECT count(*) FROM orders")
    for owner, cart in refused_carts:
        again = await checkout(client, cart["id"], key=f"again-{cart['id']}", **owner.auth)
        assert again.status_code == 201, again.text
        assert again.json()["order"]["totals"]["discount"]["amount"] == 0, "placed again, at the full price"
