"""POST /store/orders/{id}/payment/confirm: completing a 3-D Secure payment of the test gateway."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules import orders, payments
from mercato.modules.payments.models import Payment
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer
from tests.integration.catalog.review_factories import make_customers
from tests.integration.orders.factories import place


async def _three_d_secure_order(session: AsyncSession, customer_id: uuid.UUID | None = None) -> orders.PlacedOrder:
    """An order as checkout leaves it when the card needs 3-D Secure."""
    placed = await place(session, customer_id=customer_id)
    outcome = await payments.authorize(session, order_id=placed.id, amount=4488, currency="EUR", gateway="test",
                                       token="tok_threeDSecureRequired", idempotency_key=f"checkout:{placed.id}")
    await orders.record_payment(session, placed.id, payment_status=outcome.status, event="payment.requires_action",
                                data={"payment_id": str(outcome.payment_id)})
    await session.commit()
    return placed


async def _payment_status(session: AsyncSession, order_id: uuid.UUID) -> str:
    return (await session.execute(select(Payment.status).where(Payment.order_id == order_id)
                                  .execution_options(populate_existing=True))).scalar_one()


async def test_approving_confirms_the_order(session: AsyncSession, client: httpx.AsyncClient,
                                            settings: Settings) -> None:
    placed = await _three_d_secure_order(session)
    url = f"/store/orders/{placed.id}/payment/confirm"

    response = await client.post(url, params={"token": placed.token}, json={"result": "approve"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["payment_status"]) == ("confirmed", "authorized")
    assert await _payment_status(session, placed.id) == "authorized"
    again = await client.post(url, params={"token": placed.token}, json={"result": "approve"})
    assert again.status_code == 409
    assert again.json()["code"] == "payment.no_action_required"
    admin = await client.get(f"/admin/orders/{placed.id}", headers=bearer(staff_token_for(settings, ["orders:read"])))
    assert [e["kind"] for e in admin.json()["events"]] == ["order.placed", "payment.requires_action",
                                                           "payment.confirmed"]
    assert admin.json()["events"][2]["actor"] == "guest"
    assert [p["status"] for p in admin.json()["payments"]] == ["authorized"]


async def test_a_failed_challenge_is_402_and_the_payment_still_waits(
    session: AsyncSession, client: httpx.AsyncClient, settings: Settings
) -> None:
    (customer,) = await make_customers(session, settings)
    placed = await _three_d_secure_order(session, customer.id)
    url = f"/store/orders/{placed.id}/payment/confirm"

    failed = await client.post(url, headers=customer.auth, json={"result": "fail"})

    assert failed.status_code == 402, failed.text
    assert failed.json()["code"] == "payment.declined"
    assert failed.json()["errors"][0]["code"] == "authentication_failed"
    assert await _payment_status(session, placed.id) == "requires_action"
    retried = await client.post(url, headers=customer.auth, json={"result": "approve"})
    assert retried.status_code == 200
    assert retried.json()["payment_status"] == "authorized"


async def test_only_the_buyer_may_confirm(session: AsyncSession, client: httpx.AsyncClient,
                                          settings: Settings) -> None:
    owner, stranger = await make_customers(session, settings, 2)
    placed = await _three_d_secure_order(session, owner.id)
    url = f"/store/orders/{placed.id}/payment/confirm"

    for response in (await client.post(url, json={"result": "approve"}),
                     await client.post(url, headers=stranger.auth, json={"result": "approve"}),
                     await client.post(url, params={"token": "x" * 43}, json={"result": "approve"})):
        assert response.status_code == 404, response.text
    assert await _payment_status(session, placed.id) == "requires_action"


async def test_bad_bodies_change_nothing(session: AsyncSession, client: httpx.AsyncClient) -> None:
    placed = await _three_d_secure_order(session)
    url = f"/store/orders/{placed.id}/payment/confirm"
    for body in ({"result": "maybe"}, {}, {"result": "approve", "extra": 1}):
        response = await client.post(url, params={"token": placed.token}, json=body)
        assert response.status_code == 422, response.text
    assert (await client.post(url, params={"token": placed.token}, content=b"{",
                              headers={"content-type": "application/json"})).status_code == 400
    assert await _payment_status(session, placed.id) == "requires_action"


async def test_an_order_paid_without_action_has_nothing_to_confirm(session: AsyncSession,
                                                                  client: httpx.AsyncClient) -> None:
    placed = await place(session)
    await payments.authorize(session, order_id=placed.id, amount=4488, currency="EUR", gateway="test",
                             token="tok_visa", idempotency_key=f"checkout:{placed.id}")
    await session.commit()
    response = await client.post(f"/store/orders/{placed.id}/payment/confirm", params={"token": placed.token},
                                 json={"result": "approve"})
    assert response.status_code == 409


async def test_the_idempotency_key_replays_the_confirmation(session: AsyncSession, client: httpx.AsyncClient) -> None:
    placed = await _three_d_secure_order(session)
    url = f"/store/orders/{placed.id}/payment/confirm"
    headers = {"idempotency-key": f"confirm-{placed.id}"}
    first = await client.post(url, params={"token": placed.token}, json={"result": "approve"}, headers=headers)
    second = await client.post(url, params={"token": placed.token}, json={"result": "approve"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json() == first.json()
