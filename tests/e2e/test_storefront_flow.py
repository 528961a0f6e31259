"""The whole core storefront flow of API.md, in its order, over HTTP against a real `mercato serve`
process on the demo store (issue #6, "Done when"), and the admin's first look at the order."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.processes import Processes, process_env

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
ADDRESS = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Unter den Linden 1", "city": "Berlin",
           "postal_code": "10117", "country_code": "DE"}


def _mercato(url: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "mercato", *args], env=process_env(url), capture_output=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def _in_stock_variant(http: httpx.Client) -> dict[str, Any]:
    """The first product of the demo catalogue with a variant in stock, as a shopper finds it."""
    categories = _ok(http.get("/store/categories"))["items"]
    cursor = None
    while True:
        page = _ok(http.get("/store/products", params={"limit": 50, "sort": "newest",
                                                       **({"cursor": cursor} if cursor else {})}))
        for item in page["items"]:
            assert {"id", "slug", "name", "price", "in_stock", "thumbnail"} <= set(item)
            if item["in_stock"]:
                detail = _ok(http.get(f"/store/products/{item['slug']}"))
                for variant in detail["variants"]:
                    assert {"id", "sku", "name", "price", "in_stock", "options"} <= set(variant)
                    if variant["in_stock"]:
                        assert categories, "the demo store has a category tree"
                        return dict(variant)
        cursor = page["next_cursor"]
        assert cursor, "the demo store has stock"


def test_the_core_storefront_flow(processes: Processes, fresh_database: Callable[[], str]) -> None:
    url = fresh_database()
    _mercato(url, "seed", "--demo")
    _mercato(url, "createsuperuser", "--email", "admin@example.com", "--password", PASSWORD)
    base = processes.serve(url)
    with httpx.Client(base_url=base, timeout=30) as http:
        # browse a category, then a product
        root = _ok(http.get("/store/categories"))["items"][0]
        listed = _ok(http.get("/store/products", params={"category": root["slug"], "limit": 5}))
        assert listed["items"]
        assert all(item["price"]["currency"] == "EUR" for item in listed["items"])
        variant = _in_stock_variant(http)

        # register, log in, refresh
        _ok(http.post("/store/auth/register", json={"email": "shopper@example.com", "password": PASSWORD,
                                                    "first_name": "Erika"}), 201)
        tokens = _ok(http.post("/store/auth/login", json={"email": "shopper@example.com", "password": PASSWORD}))
        assert tokens["token_type"] == "bearer"
        refreshed = _ok(http.post("/store/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
        me = {"Authorization": f"Bearer {refreshed['access_token']}"}

        # a cart attached to the customer: add, change, remove a line
        cart = _ok(http.post("/store/carts", json={"currency": "EUR"}, headers=me), 201)
        cid = cart["id"]
        cart = _ok(http.post(f"/store/carts/{cid}/lines", json={"variant_id": variant["id"], "quantity": 1},
                             headers=me), 201)
        line = cart["lines"][0]
        assert (line["variant_id"], line["sku"], line["quantity"]) == (variant["id"], variant["sku"], 1)
        assert line["unit_price"] == variant["price"]
        cart = _ok(http.patch(f"/store/carts/{cid}/lines/{line['id']}", json={"quantity": 2}, headers=me))
        assert cart["lines"][0]["quantity"] == 2
        assert cart["totals"]["subtotal"]["amount"] == 2 * variant["price"]["amount"]
        extra = _ok(http.post(f"/store/carts/{cid}/lines", json={"variant_id": variant["id"], "quantity": 1},
                              headers=me))
        assert extra["lines"][0]["quantity"] == 3
        cart = _ok(http.patch(f"/store/carts/{cid}/lines/{line['id']}", json={"quantity": 1}, headers=me))
        assert _ok(http.get(f"/store/carts/{cid}"), 404)["code"] == "cart.not_found", "a customer's cart is theirs"

        # buyer data, shipping, coupon
        cart = _ok(http.patch(f"/store/carts/{cid}", json={"email": "shopper@example.com",
                                                           "shipping_address": ADDRESS}, headers=me))
        options = _ok(http.get(f"/store/carts/{cid}/shipping-options", headers=me))
        assert len(options) >= 2
        assert {"id", "name", "price", "min_days", "max_days"} <= set(options[0])
        cart = _ok(http.put(f"/store/carts/{cid}/shipping-option", json={"shipping_option_id": options[0]["id"]},
                            headers=me))
        assert cart["shipping_option"]["id"] == options[0]["id"]
        before_coupon = cart["totals"]
        assert _ok(http.post(f"/store/carts/{cid}/coupons", json={"code": "NOPE-NOPE"}, headers=me), 422)[
            "code"].startswith("promotion.")
        cart = _ok(http.post(f"/store/carts/{cid}/coupons", json={"code": "WELCOME10"}, headers=me))
        assert cart["coupons"] == ["WELCOME10"]
        assert cart["totals"]["discount"]["amount"] > before_coupon["discount"]["amount"]
        totals = cart["totals"]
        assert totals["total"]["amount"] == (totals["subtotal"]["amount"] - totals["discount"]["amount"]
                                             + totals["shipping"]["amount"]), "EUR prices include tax"

        # a declined card keeps the cart; then the order
        declined = http.post(f"/store/carts/{cid}/checkout", headers={**me, "Idempotency-Key": "flow-1"},
                             json={"payment": {"gateway": "test", "token": "tok_chargeDeclined"}})
        assert _ok(declined, 402)["code"] == "payment.declined"
        assert _ok(http.get(f"/store/carts/{cid}", headers=me))["lines"]
        placed = _ok(http.post(f"/store/carts/{cid}/checkout", headers={**me, "Idempotency-Key": "flow-2"},
                               json={"payment": {"gateway": "test", "token": "tok_visa"}}), 201)
        order = placed["order"]
        assert order["totals"] == totals
        assert (order["status"], order["payment_status"]) == ("confirmed", "authorized")
        replay = http.post(f"/store/carts/{cid}/checkout", headers={**me, "Idempotency-Key": "flow-2"},
                           json={"payment": {"gateway": "test", "token": "tok_visa"}})
        assert _ok(replay, 201)["order"]["id"] == order["id"]

        # the order, for its customer and for whoever holds its token; the customer's list
        assert _ok(http.get(f"/store/orders/{order['id']}", headers=me))["number"] == order["number"]
        assert _ok(http.get(f"/store/orders/{order['id']}", params={"token": placed["order_token"]}))["id"] == order[
            "id"]
        assert _ok(http.get(f"/store/orders/{order['id']}"), 404)
        mine = _ok(http.get("/store/me/orders", headers=me))
        assert [o["id"] for o in mine["items"]] == [order["id"]]

        # the first refresh token died when it was used (reusing it now signs the session out)
        assert _ok(http.post("/store/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)

        # the admin sees the order with its timeline, and the stock it took
        staff = _ok(http.post("/admin/auth/login", json={"email": "admin@example.com", "password": PASSWORD}))
        admin = {"Authorization": f"Bearer {staff['access_token']}"}
        seen = _ok(http.get(f"/admin/orders/{order['id']}", headers=admin))
        assert [e["kind"] for e in seen["events"]][:2] == ["order.placed", "payment.authorized"]
        levels = _ok(http.get("/admin/inventory", params={"variant_id": variant["id"]}, headers=admin))["items"]
        assert sum(level["on_hand"] - level["available"] for level in levels) >= 1
