"""Tax-exempt customers (B2B with a VAT id), over HTTP: exemption comes from a customer group flagged
`tax_exempt`. Exclusive prices (web-us) lose the tax added on top; inclusive prices (web-eu) lose the
tax they contain; the same cart for a customer outside such a group is taxed; and the flag, changed
by the admin, applies from the cart's next read."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.settings import Settings
from mercato.modules.cart.repository import load
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer, problem
from tests.integration.cart.helpers import DE_ADDRESS, US_ADDRESS, Shop, add, amounts, make_shop, new_cart, read
from tests.integration.catalog import review_factories
from tests.integration.catalog.review_factories import make_customers
from tests.integration.checkout.helpers import checkout, ready_cart

# The mug: 12.00 USD net in web-us, New York sales tax 4 % → 0.48; 10.00 EUR gross in web-eu, German
# VAT 19 % contained → round(1000 × 19 / 119) = 1.60.
US_TAX = 48
DE_CONTAINED_TAX = 160


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    return await make_shop(session)


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    return bearer(staff_token_for(settings, ["catalog:read", "catalog:write", "customers:read",
                                             "customers:write"]))


async def make_group(client: httpx.AsyncClient, admin: dict[str, str], code: str, *, tax_exempt: bool,
                     members: list[review_factories.TestCustomer]) -> httpx.Response:
    created = await client.post("/admin/customer-groups", headers=admin,
                                json={"code": code, "name": code, "tax_exempt": tax_exempt})
    assert created.status_code == 201, created.text
    if members:
        added = await client.post(f"/admin/customer-groups/{created.json()['id']}/members", headers=admin,
                                  json={"customer_ids": [str(m.id) for m in members]})
        assert added.json() == {"added": len(members)}
    return created


async def priced_cart(client: httpx.AsyncClient, customer: review_factories.TestCustomer, channel: str,
                      address: dict[str, str], shop: Shop) -> dict[str, Any]:
    """The customer's cart in `channel` with one mug and a shipping address (so tax is known)."""
    cart = await new_cart(client, channel, **customer.auth)
    added = await add(client, cart["id"], shop.mug, 1, **customer.auth)
    assert added.status_code == 201, added.text
    changed = await client.patch(f"/store/carts/{cart['id']}", headers=customer.auth,
                                 json={"shipping_address": address})
    assert changed.status_code == 200, changed.text
    body = dict(changed.json())
    assert body["tax_calculated"] is True
    return body


async def test_an_exempt_customer_pays_no_tax_on_exclusive_prices(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop, admin: dict[str, str],
) -> None:
    buyer, other = await make_customers(session, settings, 2)
    await session.commit()
    # In a taxed group too: one exempt group among several is enough.
    await make_group(client, admin, "trade", tax_exempt=False, members=[buyer, other])
    await make_group(client, admin, "b2b-us", tax_exempt=True, members=[buyer])

    exempt = await priced_cart(client, buyer, "web-us", US_ADDRESS, shop)
    assert exempt["tax_exempt"] is True
    assert amounts(exempt) == {"subtotal": 1200, "discount": 0, "shipping": 0, "tax": 0, "total": 1200}
    assert exempt["lines"][0]["tax"]["amount"] == 0
    assert exempt["lines"][0]["total"]["amount"] == 1200
    assert [e["kind"] for e in exempt["lines"][0]["breakdown"]] == ["base_price", "tax_exemption"]

    taxed = await priced_cart(client, other, "web-us", US_ADDRESS, shop)
    assert taxed["tax_exempt"] is False
    assert amounts(taxed) == {"subtotal": 1200, "discount": 0, "shipping": 0, "tax": US_TAX,
                              "total": 1200 + US_TAX}
    # A read shows the same as the write that priced it.
    assert amounts(await read(client, exempt["id"], **buyer.auth)) == amounts(exempt)


async def test_an_exempt_customer_pays_inclusive_prices_without_the_tax_they_contain(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop, admin: dict[str, str],
) -> None:
    buyer, other = await make_customers(session, settings, 2)
    await session.commit()
    await make_group(client, admin, "b2b-eu", tax_exempt=True, members=[buyer])

    taxed = await priced_cart(client, other, "web-eu", DE_ADDRESS, shop)
    assert (taxed["tax_exempt"], taxed["tax_included"]) == (False, True)
    assert amounts(taxed) == {"subtotal": 1000, "discount": 0, "shipping": 0, "tax": DE_CONTAINED_TAX,
                              "total": 1000}

    exempt = await priced_cart(client, buyer, "web-eu", DE_ADDRESS, shop)
    assert (exempt["tax_exempt"], exempt["tax_included"]) == (True, False)
    assert amounts(exempt) == {"subtotal": 1000, "discount": 0, "shipping": 0, "tax": 0,
                               "total": 1000 - DE_CONTAINED_TAX}
    assert exempt["lines"][0]["total"]["amount"] == 1000 - DE_CONTAINED_TAX
    removed = [e for e in exempt["breakdown"] if e["kind"] == "tax_exemption"]
    assert [e["amount"] for e in removed] == [-DE_CONTAINED_TAX]
    explained = sum(e["amount"] for e in exempt["breakdown"] if not e["informational"])
    assert explained == exempt["totals"]["total"]["amount"]


async def test_an_exempt_customers_order_costs_what_the_cart_showed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop, admin: dict[str, str],
) -> None:
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    await make_group(client, admin, "b2b", tax_exempt=True, members=[buyer])
    cart = await ready_cart(client, [(shop.mug, 2)], **buyer.auth)  # with shipping: its tax goes too
    assert cart["tax_exempt"] is True
    assert cart["totals"]["tax"]["amount"] == 0
    assert cart["totals"]["total"]["amount"] < cart["totals"]["subtotal"]["amount"] \
        + cart["totals"]["shipping"]["amount"]
    placed = await checkout(client, cart["id"], key="exempt", **buyer.auth)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["totals"] == cart["totals"]


async def test_the_admin_changing_the_flag_applies_on_the_next_cart_read(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop, admin: dict[str, str],
) -> None:
    (buyer,) = await make_customers(session, settings)
    await session.commit()
    group = await make_group(client, admin, "b2b", tax_exempt=False, members=[buyer])
    url = f"/admin/customer-groups/{group.json()['id']}"
    cart = await priced_cart(client, buyer, "web-us", US_ADDRESS, shop)
    assert (cart["tax_exempt"], cart["totals"]["tax"]["amount"]) == (False, US_TAX)

    granted = await client.patch(url, headers={**admin, "if-match": group.headers["etag"]},
                                 json={"tax_exempt": True})
    assert granted.status_code == 200, granted.text
    now_exempt = await read(client, cart["id"], **buyer.auth)
    assert (now_exempt["tax_exempt"], now_exempt["totals"]["tax"]["amount"]) == (True, 0)
    assert now_exempt["totals"]["total"]["amount"] == 1200

    # A stale ETag changes nothing: the cart stays exempt.
    stale = await client.patch(url, headers={**admin, "if-match": group.headers["etag"]},
                               json={"tax_exempt": False})
    assert stale.status_code == 412
    assert (await read(client, cart["id"], **buyer.auth))["tax_exempt"] is True

    revoked = await client.patch(url, headers={**admin, "if-match": granted.headers["etag"]},
                                 json={"tax_exempt": False})
    assert revoked.status_code == 200, revoked.text
    taxed_again = await read(client, cart["id"], **buyer.auth)
    assert (taxed_again["tax_exempt"], taxed_again["totals"]["tax"]["amount"]) == (False, US_TAX)

    # Leaving the group ends the exemption as well.
    await client.patch(url, headers={**admin, "if-match": revoked.headers["etag"]}, json={"tax_exempt": True})
    assert (await read(client, cart["id"], **buyer.auth))["tax_exempt"] is True
    assert (await client.delete(f"{url}/members/{buyer.id}", headers=admin)).status_code == 204
    assert (await read(client, cart["id"], **buyer.auth))["totals"]["tax"]["amount"] == US_TAX


async def test_a_guest_is_never_exempt(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client, "web-us")
    await add(client, cart["id"], shop.mug, 1)
    body = (await client.patch(f"/store/carts/{cart['id']}", json={"shipping_address": US_ADDRESS})).json()
    assert body["tax_exempt"] is False
    assert body["totals"]["tax"]["amount"] == US_TAX


async def test_a_request_without_a_customer_reads_no_buyer_and_finds_only_guest_carts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop, admin: dict[str, str],
) -> None:
    """Guest requests load carts without the buyer's reads (`load(for_guest=True)`): the same cart
    as the full load for a guest cart, and a customer's cart stays theirs (404 without the token)."""
    (buyer,) = await make_customers(session, settings, 1)
    await session.commit()
    await make_group(client, admin, "b2b-us", tax_exempt=True, members=[buyer])
    theirs = await priced_cart(client, buyer, "web-us", US_ADDRESS, shop)
    guest = await new_cart(client, "web-us")
    await add(client, guest["id"], shop.mug, 2)

    now = utcnow()
    full = await load(session, uuid.UUID(guest["id"]), now=now, extra=[shop.mug])
    lean = await load(session, uuid.UUID(guest["id"]), now=now, extra=[shop.mug], for_guest=True)
    assert full is not None
    assert full.items
    assert lean == full
    customer = await load(session, uuid.UUID(theirs["id"]), now=now)
    assert customer is not None
    assert customer.tax_exempt
    assert customer.group_ids
    without_buyer = await load(session, uuid.UUID(theirs["id"]), now=now, for_guest=True)
    assert without_buyer is not None
    assert not without_buyer.tax_exempt
    assert not without_buyer.group_ids
    # ...which no request without their token gets to use: the cart is not found.
    problem(await client.get(f"/store/carts/{theirs['id']}"), 404, "cart.not_found")
    problem(await add(client, theirs["id"], shop.mug, 1), 404, "cart.not_found")
