"""Carts ready to check out, for the checkout tests (the shop is the cart tests' one)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.integration.cart.helpers import DE_ADDRESS, add, new_cart

CHECKOUT_OK = {"payment": {"gateway": "test", "token": "tok_visa"}}


def paying(token: str) -> dict[str, Any]:
    return {"payment": {"gateway": "test", "token": token}}


async def ready_cart(client: httpx.AsyncClient, lines: Sequence[tuple[uuid.UUID, int]], *,
                     email: str = "buyer@example.com", coupon: str | None = None,
                     address: dict[str, str] | None = None, **headers: str) -> dict[str, Any]:
    """A cart with `lines`, an email, a shipping address and the cheapest shipping option chosen."""
    cart = await new_cart(client, **headers)
    for variant, quantity in lines:
        response = await add(client, cart["id"], variant, quantity, **headers)
        assert response.status_code in (200, 201), response.text
    response = await client.patch(f"/store/carts/{cart['id']}", headers=headers,
                                  json={"email": email, "shipping_address": address or DE_ADDRESS})
    assert response.status_code == 200, response.text
    options = await client.get(f"/store/carts/{cart['id']}/shipping-options", headers=headers)
    assert options.status_code == 200, options.text
    response = await client.put(f"/store/carts/{cart['id']}/shipping-option", headers=headers,
                                json={"shipping_option_id": options.json()[0]["id"]})
    assert response.status_code == 200, response.text
    if coupon:
        response = await client.post(f"/store/carts/{cart['id']}/coupons", json={"code": coupon}, headers=headers)
        assert response.status_code == 200, response.text
    return dict(response.json())


async def checkout(client: httpx.AsyncClient, cart_id: str, body: dict[str, Any] | None = None, *,
                   key: str | None = None, **headers: str) -> httpx.Response:
    sent = {**headers, **({"Idempotency-Key": key} if key else {})}
    return await client.post(f"/store/carts/{cart_id}/checkout", json=body or CHECKOUT_OK, headers=sent)
