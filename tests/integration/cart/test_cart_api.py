"""/store/carts over HTTP: creating and reading carts, lines, buyer data, shipping and coupons,
every refusal with its problem code and the cart unchanged after it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.fixtures.http import problem
from tests.integration.cart.helpers import DE_ADDRESS, US_ADDRESS, Shop, add, amounts, make_shop, new_cart, read
from tests.integration.catalog.review_factories import make_customers


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    return await make_shop(session)



async def test_a_guest_cart_is_created_empty_in_the_default_channel(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await client.post("/store/carts")
    assert response.status_code == 201, response.text
    cart = response.json()
    assert cart["channel"] == "web-eu"
    assert cart["currency"] == "EUR"
    assert cart["lines"] == []
    assert cart["customer_id"] is None
    assert cart["coupons"] == []
    assert amounts(cart) == {"subtotal": 0, "discount": 0, "shipping": 0, "tax": 0, "total": 0}
    assert set(cart) >= {"id", "currency", "lines", "email", "shipping_address", "billing_address",
                         "shipping_option", "coupons", "totals"}
    # 128 random bits: not the time-ordered ids used elsewhere, and never the same twice.
    other = await new_cart(client)
    assert cart["id"] != other["id"]
    assert uuid.UUID(cart["id"]).int != 0
    assert (await read(client, cart["id"]))["id"] == cart["id"]


async def test_creation_refuses_unknown_channels_and_other_currencies(client: httpx.AsyncClient, shop: Shop) -> None:
    problem(await client.post("/store/carts", params={"channel": "nope"}), 422, "cart.unknown_channel")
    body = problem(await client.post("/store/carts", params={"channel": "web-us"}, json={"currency": "EUR"}),
                   422, "cart.currency_mismatch")
    assert body["errors"] == [{"field": "currency", "code": "mismatch", "message": "This channel sells in USD."}]
    ok = await client.post("/store/carts", params={"channel": "web-us"}, json={"currency": "USD"})
    assert ok.status_code == 201
    assert ok.json()["currency"] == "USD"


async def test_a_customer_has_one_active_cart_per_channel_reachable_only_with_their_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, shop: Shop,
) -> None:
    alice, bob = await make_customers(session, settings, 2)
    await session.commit()
    first = await client.post("/store/carts", headers=alice.auth)
    assert first.status_code == 201
    assert first.json()["customer_id"] == str(alice.id)
    again = await client.post("/store/carts", headers=alice.auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    us = await client.post("/store/carts", params={"channel": "web-us"}, headers=alice.auth)
    assert us.status_code == 201
    assert us.json()["id"] != first.json()["id"]
    cart_id = first.json()["id"]
    problem(await client.get(f"/store/carts/{cart_id}"), 404, "cart.not_found")
    problem(await client.get(f"/store/carts/{cart_id}", headers=bob.auth), 404, "cart.not_found")
    problem(await add(client, cart_id, shop.mug), 404, "cart.not_found")
    assert (await read(client, cart_id, **alice.auth))["id"] == cart_id
    problem(await client.get("/store/carts/not-a-cart"), 404, "cart.not_found")
    problem(await client.get(f"/store/carts/{uuid.uuid4()}"), 404, "cart.not_found")


async def test_adding_creates_a_line_then_adds_to_it(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    created = await add(client, cart["id"], shop.mug, 2)
    assert created.status_code == 201, created.text
    line = created.json()["lines"][0]
    assert line["variant_id"] == str(shop.mug)
    assert line["quantity"] == 2
    assert line["unit_price"] == {"amount": 1000, "currency": "EUR"}
    assert line["total"] == {"amount": 2000, "currency": "EUR"}
    assert line["sku"]
    assert line["name"]
    merged = await add(client, cart["id"], shop.mug, 3)
    assert merged.status_code == 200
    lines = merged.json()["lines"]
    assert [(x["id"], x["quantity"]) for x in lines] == [(line["id"], 5)]
    second = await add(client, cart["id"], shop.tracked, 1)
    assert second.status_code == 201
    assert [x["variant_id"] for x in second.json()["lines"]] == [str(shop.mug), str(shop.tracked)]
    assert amounts(await read(client, cart["id"]))["subtotal"] == 5000 + 2500


@pytest.mark.parametrize(("case", "status", "code"), [
    ("unknown", 422, "cart.unknown_variant"),
    ("not_an_id", 422, "cart.unknown_variant"),
    ("draft", 409, "cart.variant_unavailable"),
    ("other_channel", 409, "cart.variant_unavailable"),
    ("zero", 422, "cart.invalid_quantity"),
    ("negative", 422, "cart.invalid_quantity"),
    ("huge", 422, "cart.invalid_quantity"),
    ("over_hard_limit_when_merged", 422, "cart.invalid_quantity"),
    ("below_minimum", 422, "cart.invalid_quantity"),
    ("above_maximum", 422, "cart.invalid_quantity"),
    ("stock", 409, "cart.insufficient_stock"),
])
async def test_refused_lines_leave_the_cart_unchanged(
    client: httpx.AsyncClient, shop: Shop, case: str, status: int, code: str,
) -> None:
    cart = await new_cart(client)
    assert (await add(client, cart["id"], shop.mug, 999)).status_code == 201
    before = await read(client, cart["id"])
    variant, quantity = {
        "unknown": (str(uuid.uuid4()), 1), "not_an_id": ("abc", 1), "draft": (str(shop.draft), 1),
        "other_channel": (str(shop.us_only), 1), "zero": (str(shop.tracked), 0),
        "negative": (str(shop.tracked), -3), "huge": (str(shop.tracked), 10**12),
        "over_hard_limit_when_merged": (str(shop.mug), 2), "below_minimum": (str(shop.limited), 1),
        "above_maximum": (str(shop.limited), 6), "stock": (str(shop.tracked), 21),
    }[case]
    body = problem(await add(client, cart["id"], variant, quantity), status, code)
    assert body["errors"], body
    assert await read(client, cart["id"]) == before


async def test_the_stock_check_counts_what_is_in_the_cart_already(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    assert (await add(client, cart["id"], shop.tracked, 15)).status_code == 201
    body = problem(await add(client, cart["id"], shop.tracked, 6), 409, "cart.insufficient_stock")
    assert body["errors"] == [{"field": "quantity", "code": "insufficient_stock",
                               "message": "21 wanted, 20 available."}]
    assert (await add(client, cart["id"], shop.tracked, 5)).status_code == 200


async def test_lines_are_changed_and_removed(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    line_id = (await add(client, cart["id"], shop.limited, 2)).json()["lines"][0]["id"]
    changed = await client.patch(f"/store/carts/{cart['id']}/lines/{line_id}", json={"quantity": 4})
    assert changed.status_code == 200, changed.text
    assert changed.json()["lines"][0]["quantity"] == 4
    before = await read(client, cart["id"])
    problem(await client.patch(f"/store/carts/{cart['id']}/lines/{line_id}", json={"quantity": 6}), 422,
            "cart.invalid_quantity")
    problem(await client.patch(f"/store/carts/{cart['id']}/lines/{line_id}", json={"quantity": 0}), 422,
            "cart.invalid_quantity")
    problem(await client.patch(f"/store/carts/{cart['id']}/lines/{uuid.uuid4()}", json={"quantity": 1}), 404,
            "cart.line_not_found")
    problem(await client.delete(f"/store/carts/{cart['id']}/lines/nope"), 404, "cart.line_not_found")
    assert await read(client, cart["id"]) == before
    removed = await client.delete(f"/store/carts/{cart['id']}/lines/{line_id}")
    assert removed.status_code == 200
    assert removed.json()["lines"] == []
    assert amounts(removed.json())["total"] == 0


async def test_lines_keep_the_order_they_were_added_in(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    for variant in (shop.many[3], shop.many[0], shop.mug):
        assert (await add(client, cart["id"], variant)).status_code == 201
    expected = [str(shop.many[3]), str(shop.many[0]), str(shop.mug)]
    again = await add(client, cart["id"], shop.many[0], 2)  # to an existing line: it keeps its place
    assert [line["variant_id"] for line in again.json()["lines"]] == expected
    mug_line = again.json()["lines"][2]["id"]
    changed = await client.patch(f"/store/carts/{cart['id']}/lines/{mug_line}", json={"quantity": 3})
    assert [line["variant_id"] for line in changed.json()["lines"]] == expected
    assert [line["variant_id"] for line in (await read(client, cart["id"]))["lines"]] == expected


async def test_buyer_data_is_validated_per_country(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    await add(client, cart["id"], shop.mug, 1)
    before = await read(client, cart["id"])
    url = f"/store/carts/{cart['id']}"
    problem(await client.patch(url, json={"email": "not-an-email"}), 422, "cart.invalid")
    body = problem(await client.patch(url, json={"shipping_address": {**DE_ADDRESS, "postal_code": "1234"}}),
                   422, "address.invalid")
    assert [e["field"] for e in body["errors"]] == ["shipping_address.postal_code"]
    body = problem(await client.patch(url, json={"shipping_address": US_ADDRESS}), 422, "cart.country_not_supported")
    assert body["errors"][0]["field"] == "shipping_address.country_code"
    problem(await client.patch(url, json={"shipping_address": "Berlin"}), 422, "validation.invalid")
    assert await read(client, cart["id"]) == before
    ok = await client.patch(url, json={"email": " Erika@Example.COM ", "shipping_address": DE_ADDRESS,
                                       "billing_address": US_ADDRESS})
    assert ok.status_code == 200, ok.text
    cart = ok.json()
    assert cart["email"] == "erika@example.com"
    assert cart["shipping_address"]["city"] == "Berlin"
    assert cart["billing_address"]["region"] == "NY"  # billing may be anywhere
    assert cart["tax_calculated"] is True
    cleared = (await client.patch(url, json={"billing_address": None})).json()
    assert cleared["billing_address"] is None
    assert cleared["email"] == "erika@example.com"  # fields not sent stay


async def test_shipping_options_need_an_address_and_a_choice_must_apply(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    await add(client, cart["id"], shop.mug, 1)
    url = f"/store/carts/{cart['id']}"
    problem(await client.get(f"{url}/shipping-options"), 422, "cart.shipping_address_required")
    problem(await client.put(f"{url}/shipping-option", json={"shipping_option_id": str(uuid.uuid4())}), 422,
            "cart.shipping_address_required")
    await client.patch(url, json={"shipping_address": DE_ADDRESS})
    options = await client.get(f"{url}/shipping-options")
    assert options.status_code == 200, options.text
    listed = options.json()
    assert [o["name"] for o in listed] == ["Standard (free from €50)", "Express"]
    assert listed[0]["price"] == {"amount": 490, "currency": "EUR"}
    assert set(listed[0]) == {"id", "name", "price", "min_days", "max_days"}
    before = await read(client, cart["id"])
    problem(await client.put(f"{url}/shipping-option", json={"shipping_option_id": "nope"}), 422,
            "shipping.option_unavailable")
    assert await read(client, cart["id"]) == before
    chosen = await client.put(f"{url}/shipping-option", json={"shipping_option_id": listed[0]["id"]})
    assert chosen.status_code == 200, chosen.text
    body = chosen.json()
    assert body["shipping_option"]["id"] == listed[0]["id"]
    assert amounts(body)["shipping"] == 490
    assert amounts(body)["total"] == 1000 + 490
    # Over €50 the standard option is free: the cart quotes it again on every change.
    more = (await add(client, cart["id"], shop.mug, 5)).json()
    assert amounts(more)["shipping"] == 0


async def test_an_address_the_chosen_option_does_not_serve_drops_the_choice(
    client: httpx.AsyncClient, shop: Shop,
) -> None:
    cart = await new_cart(client)
    await add(client, cart["id"], shop.mug, 1)
    url = f"/store/carts/{cart['id']}"
    await client.patch(url, json={"shipping_address": DE_ADDRESS})
    option = (await client.get(f"{url}/shipping-options")).json()[0]["id"]
    await client.put(f"{url}/shipping-option", json={"shipping_option_id": option})
    french = {**DE_ADDRESS, "city": "Paris", "postal_code": "75001", "country_code": "FR"}
    moved = (await client.patch(url, json={"shipping_address": french})).json()
    assert moved["shipping_option"] is None
    assert amounts(moved)["shipping"] == 0


async def test_the_welcome_coupon_takes_ten_percent_and_can_be_removed(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client, "web-us")
    await add(client, cart["id"], shop.mug, 2)
    url = f"/store/carts/{cart['id']}/coupons"
    applied = await client.post(url, json={"code": "welcome10"})
    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert body["coupons"] == ["WELCOME10"]
    assert amounts(body)["discount"] == 240
    assert amounts(body)["total"] == 2400 - 240
    line = body["lines"][0]
    assert [(e["kind"], e["amount"], e["code"]) for e in line["breakdown"] if e["kind"] == "promotion"] == \
        [("promotion", -240, "WELCOME10")]
    again = await client.post(url, json={"code": "WELCOME10"})
    assert again.json()["coupons"] == ["WELCOME10"]
    removed = await client.delete(f"{url}/welcome10")
    assert removed.status_code == 200
    assert removed.json()["coupons"] == []
    assert amounts(removed.json())["discount"] == 0
    problem(await client.delete(f"{url}/WELCOME10"), 404, "cart.coupon_not_found")


async def test_unknown_coupons_are_refused_and_guessing_is_rate_limited(
    client: httpx.AsyncClient, shop: Shop, settings: Settings,
) -> None:
    cart = await new_cart(client)
    await add(client, cart["id"], shop.mug, 1)
    before = await read(client, cart["id"])
    url = f"/store/carts/{cart['id']}/coupons"
    body = problem(await client.post(url, json={"code": "NOPE"}), 422, "promotion.not_found")
    assert body["errors"][0]["field"] == "code"
    assert await read(client, cart["id"]) == before
    allowed = int(settings.rate_limit_coupon.split("/")[0])
    statuses = [(await client.post(url, json={"code": f"GUESS{i}"})).status_code for i in range(allowed)]
    assert statuses[:allowed - 1] == [422] * (allowed - 1)
    limited = await client.post(url, json={"code": "WELCOME10"})
    problem(limited, 429, "promotion.rate_limited")
    assert "retry-after" in limited.headers


async def test_usd_prices_exclude_tax_and_eur_prices_include_it(client: httpx.AsyncClient, shop: Shop) -> None:
    us = await new_cart(client, "web-us")
    await add(client, us["id"], shop.mug, 2)
    us_body = (await client.patch(f"/store/carts/{us['id']}", json={"shipping_address": US_ADDRESS})).json()
    t = amounts(us_body)
    assert t["subtotal"] == 2400
    assert t["tax"] == 96  # NY 4 % on 24.00, added
    assert t["total"] == t["subtotal"] - t["discount"] + t["shipping"] + t["tax"]
    assert us_body["tax_included"] is False
    assert us_body["lines"][0]["total"]["amount"] == 2400 + 96

    eu = await new_cart(client, "web-eu")
    await add(client, eu["id"], shop.mug, 2)
    eu_body = (await client.patch(f"/store/carts/{eu['id']}", json={"shipping_address": DE_ADDRESS})).json()
    t = amounts(eu_body)
    assert t["subtotal"] == 2000
    assert t["tax"] == 319  # 20.00 · 19/119, contained
    assert t["total"] == t["subtotal"] - t["discount"] + t["shipping"]
    assert eu_body["tax_included"] is True
    assert eu_body["totals"]["total"]["currency"] == "EUR"


async def test_automatic_promotions_apply_and_are_explained(client: httpx.AsyncClient, shop: Shop) -> None:
    cart = await new_cart(client)
    body = (await add(client, cart["id"], shop.tracked, 2)).json()  # 50.00 reaches the €5 tier
    assert amounts(body)["discount"] == 500
    assert [p["name"] for p in body["promotions"]] == ["Spend more, save more"]
    kinds = [e["kind"] for e in body["breakdown"]]
    assert kinds[:2] == ["subtotal", "promotion"]
    explained = sum(e["amount"] for e in body["breakdown"] if not e["informational"])
    assert explained == amounts(body)["total"]
