"""GET /store/orders/{id}, /store/me/orders and /admin/orders over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules import orders
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer
from tests.integration.catalog.review_factories import make_customers
from tests.integration.orders.factories import line_draft, place

ORDER_KEYS = {"id", "number", "status", "payment_status", "fulfillment_status", "currency", "lines", "totals",
              "shipping_address", "billing_address", "created_at"}


async def test_the_customer_who_placed_it_sees_the_order(
    session: AsyncSession, client: httpx.AsyncClient, settings: Settings
) -> None:
    (customer,) = await make_customers(session, settings)
    placed = await place(session, customer_id=customer.id, lines=[line_draft(1999, 2, sku="TEE-M")])
    await session.commit()

    response = await client.get(f"/store/orders/{placed.id}", headers=customer.auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= ORDER_KEYS
    assert (body["id"], body["number"], body["currency"]) == (str(placed.id), placed.number, "EUR")
    assert (body["status"], body["payment_status"], body["fulfillment_status"]) == (
        "pending", "pending", "unfulfilled")
    (line,) = body["lines"]
    assert {"id", "variant_id", "sku", "name", "quantity", "unit_price", "total"} <= set(line)
    assert (line["sku"], line["quantity"]) == ("TEE-M", 2)
    assert line["unit_price"] == {"amount": 1999, "currency": "EUR"}
    assert line["total"] == {"amount": 3998, "currency": "EUR"}
    assert body["totals"] == {"subtotal": {"amount": 3998, "currency": "EUR"},
                              "discount": {"amount": 0, "currency": "EUR"},
                              "shipping": {"amount": 490, "currency": "EUR"},
                              "tax": {"amount": 638, "currency": "EUR"},
                              "total": {"amount": 4488, "currency": "EUR"}}
    assert body["shipping_address"]["postal_code"] == "10115"
    assert body["created_at"].endswith("Z")
    assert "events" not in body
    assert "token_hash" not in body
    assert "customer_id" not in body


async def test_a_guest_sees_the_order_with_its_token(session: AsyncSession, client: httpx.AsyncClient) -> None:
    placed = await place(session)
    await session.commit()

    ok = await client.get(f"/store/orders/{placed.id}", params={"token": placed.token})

    assert ok.status_code == 200, ok.text
    assert ok.json()["number"] == placed.number


async def test_everyone_else_gets_404(session: AsyncSession, client: httpx.AsyncClient, settings: Settings) -> None:
    owner, stranger = await make_customers(session, settings, 2)
    placed = await place(session, customer_id=owner.id)
    other = await place(session)
    await session.commit()
    url = f"/store/orders/{placed.id}"

    attempts = [
        await client.get(url),
        await client.get(url, headers=stranger.auth),
        await client.get(url, params={"token": placed.token[:-1] + ("A" if placed.token[-1] != "A" else "B")}),
        await client.get(url, params={"token": other.token}),
        await client.get(url, headers=bearer(staff_token_for(settings, ["*"]))),
        await client.get(f"/store/orders/{uuid.uuid4()}", params={"token": placed.token}),
        await client.get("/store/orders/not-a-uuid", params={"token": placed.token}),
    ]

    for response in attempts:
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "order.not_found"
    assert (await client.get(url, headers=stranger.auth, params={"token": placed.token})).status_code == 200


async def test_my_orders_pages_newest_first(session: AsyncSession, client: httpx.AsyncClient, settings: Settings,
                                            assert_max_queries: Callable[[int], Any]) -> None:
    me, someone = await make_customers(session, settings, 2)
    mine = [await place(session, customer_id=me.id, lines=[line_draft(), line_draft()]) for _ in range(5)]
    await place(session, customer_id=someone.id)
    await place(session)
    await session.commit()

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        with assert_max_queries(4):  # auth session check + one page + its lines, whatever the page size
            response = await client.get("/store/me/orders", params=params, headers=me.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert all(len(item["lines"]) == 2 for item in body["items"])
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(order.id) for order in reversed(mine)]


async def test_my_orders_needs_a_customer(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.get("/store/me/orders")).status_code == 401
    staff = await client.get("/store/me/orders", headers=bearer(staff_token_for(settings, ["*"])))
    assert staff.status_code == 401


async def test_a_tampered_cursor_is_a_422(session: AsyncSession, client: httpx.AsyncClient,
                                          settings: Settings) -> None:
    (me,) = await make_customers(session, settings)
    await session.commit()
    response = await client.get("/store/me/orders", params={"cursor": "WyJ4Il0"}, headers=me.auth)
    assert response.status_code == 422
    assert response.json()["code"] == "pagination.invalid_cursor"


async def test_staff_see_the_order_with_its_timeline(
    session: AsyncSession, client: httpx.AsyncClient, settings: Settings
) -> None:
    (customer,) = await make_customers(session, settings)
    placed = await place(session, customer_id=customer.id)
    await orders.record_payment(session, placed.id, payment_status="authorized", event="payment.authorized",
                                data={"amount": 4488}, actor=f"customer:{customer.id}")
    await session.commit()
    url = f"/admin/orders/{placed.id}"

    response = await client.get(url, headers=bearer(staff_token_for(settings, ["orders:read"])))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= ORDER_KEYS
    assert (body["status"], body["payment_status"]) == ("confirmed", "authorized")
    assert body["customer_id"] == str(customer.id)
    assert [event["kind"] for event in body["events"]] == ["order.placed", "payment.authorized"]
    assert body["events"][1]["data"] == {"amount": 4488}
    assert body["events"][0]["actor"] == f"customer:{customer.id}"
    assert body["payments"] == []

    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=bearer(staff_token_for(settings, ["catalog:read"])))).status_code == 403
    assert (await client.get(url, headers=customer.auth)).status_code == 403
    missing = await client.get(f"/admin/orders/{uuid.uuid4()}", headers=bearer(staff_token_for(settings, ["*"])))
    assert missing.status_code == 404
    garbage = await client.get("/admin/orders/nope", headers=bearer(staff_token_for(settings, ["*"])))
    assert garbage.status_code == 404


async def test_staff_list_orders_with_filters(
    session: AsyncSession, client: httpx.AsyncClient, settings: Settings
) -> None:
    (customer,) = await make_customers(session, settings)
    email = f"filter-{uuid.uuid4().hex[:8]}@example.com"
    a = await place(session, customer_id=customer.id, email=email)
    b = await place(session, customer_id=customer.id)
    c = await place(session, email=email.upper())
    await orders.record_payment(session, b.id, payment_status="authorized", event="payment.authorized", data={})
    await session.commit()
    auth = bearer(staff_token_for(settings, ["orders:read"]))

    async def ids(**params: str | int) -> list[str]:
        response = await client.get("/admin/orders", params=params, headers=auth)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(customer_id=str(customer.id)) == [str(b.id), str(a.id)]
    assert await ids(email=email.title()) == [str(c.id), str(a.id)]
    assert await ids(customer_id=str(customer.id), status="confirmed") == [str(b.id)]
    assert await ids(customer_id=str(customer.id), status="cancelled") == []
    first = await client.get("/admin/orders", params={"email": email, "limit": 1}, headers=auth)
    assert [i["id"] for i in first.json()["items"]] == [str(c.id)]
    second = await client.get("/admin/orders", params={"email": email, "limit": 1,
                                                       "cursor": first.json()["next_cursor"]}, headers=auth)
    assert [i["id"] for i in second.json()["items"]] == [str(a.id)]
    assert second.json()["next_cursor"] is None
    bad = await client.get("/admin/orders", params={"status": "paid"}, headers=auth)
    assert bad.status_code == 422
    assert (await client.get("/admin/orders", params={"customer_id": "x"}, headers=auth)).status_code == 422
