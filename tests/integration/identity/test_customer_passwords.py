"""Changing a password (signed in) and resetting a forgotten one (by emailed single-use token)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings
from tests.fixtures.http import bearer
from tests.fixtures.sql import query

PASSWORD = "velvet orbit thunder 42"
NEW_PASSWORD = "copper lantern meadow 9"
EMAIL = "pw@example.com"


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def login(client: httpx.AsyncClient, password: str, email: str = EMAIL) -> httpx.Response:
    return await client.post("/store/auth/login", json={"email": email, "password": password})


async def pair(client: httpx.AsyncClient, password: str = PASSWORD) -> dict[str, Any]:
    response = await login(client, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def reset_tokens(session: AsyncSession, email: str = EMAIL) -> list[str]:
    rows = await query(session, "SELECT payload FROM outbox_events WHERE name = 'customer.password_reset_requested'"
                                " AND payload->>'email' = :email ORDER BY created_at, id", email=email)
    return [row.payload["reset_token"] for row in rows]


async def change(client: httpx.AsyncClient, access: str, current: str, new: str) -> httpx.Response:
    return await client.post("/store/me/password", headers=bearer(access),
                              json={"current_password": current, "new_password": new})


@pytest.fixture
async def customer(client: httpx.AsyncClient) -> str:
    response = await client.post("/store/auth/register", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    return EMAIL


# ---- change -----------------------------------------------------------------------------------


async def test_change_needs_the_current_password(client: httpx.AsyncClient, customer: str) -> None:
    here = await pair(client)
    response = await change(client, here["access_token"], "not my password", NEW_PASSWORD)
    assert response.status_code == 401
    assert response.json()["code"] == "auth.invalid_password"
    # A wrong current password does not sign the caller out.
    assert (await client.get("/store/me", headers=bearer(here["access_token"]))).status_code == 200
    assert (await login(client, PASSWORD)).status_code == 200


async def test_change_refuses_a_weak_new_password(client: httpx.AsyncClient, customer: str) -> None:
    here = await pair(client)
    for weak in ("short", "password1234", "pw@example.com!!"):
        response = await change(client, here["access_token"], PASSWORD, weak)
        assert response.status_code == 422, weak
        assert response.json()["code"] == "identity.weak_password"
    assert (await login(client, PASSWORD)).status_code == 200


async def test_change_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    here = await pair(client)
    elsewhere = await pair(client)
    response = await change(client, here["access_token"], PASSWORD, NEW_PASSWORD)
    assert response.status_code == 204

    assert (await client.get("/store/me", headers=bearer(here["access_token"]))).status_code == 200
    assert (await client.post("/store/auth/refresh", json={"refresh_token": here["refresh_token"]})).status_code == 200
    gone = await client.get("/store/me", headers=bearer(elsewhere["access_token"]))
    assert gone.status_code == 401
    assert gone.json()["code"] == "auth.session_revoked"
    assert (await client.post("/store/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
            ).status_code == 401

    assert (await login(client, PASSWORD)).status_code == 401
    assert (await login(client, NEW_PASSWORD)).status_code == 200
    (event,) = await query(session, "SELECT payload FROM outbox_events WHERE name = 'customer.password_changed'")
    assert event.payload["email"] == EMAIL


async def test_wrong_current_passwords_are_throttled_per_account(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession, customer: str,
) -> None:
    """A stolen access token must not become a way to guess the password without limits."""
    app = create_app(settings.model_copy(update={"login_free_failures": 2, "login_max_delay_s": 1}),
                     database=Database(engine_db.engine, sessionmaker))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as strict:
        access = (await pair(strict))["access_token"]
        # A weak new password is refused before the current one is looked at: not a guess.
        for _ in range(3):
            assert (await change(strict, access, "a guess, maybe", "short")).status_code == 422
        assert await query(session, "SELECT 1 FROM login_throttles") == []

        assert [(await change(strict, access, f"guess number {i}", NEW_PASSWORD)).status_code
                for i in range(2)] == [401, 401]
        throttled = await change(strict, access, PASSWORD, NEW_PASSWORD)  # even the right one waits
        assert throttled.status_code == 429
        assert throttled.json()["code"] == "auth.throttled"
        assert throttled.headers["retry-after"] == "1"

        await query(session, "UPDATE login_throttles SET last_failure_at = now() - interval '1 hour'")
        assert (await change(strict, access, PASSWORD, NEW_PASSWORD)).status_code == 204
        assert await query(session, "SELECT 1 FROM login_throttles") == []
        # Sign-in itself was never throttled by this.
        assert (await login(strict, NEW_PASSWORD)).status_code == 200


async def test_change_needs_a_customer(client: httpx.AsyncClient, staff_token: str) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await client.post("/store/me/password", json=body)).status_code == 401
    assert (await client.post("/store/me/password", json=body, headers=bearer(staff_token))).status_code == 401


# ---- reset ------------------------------------------------------------------------------------


async def test_reset_request_answers_alike_for_known_and_unknown_emails(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    known = await client.post("/store/auth/password-reset", json={"email": " PW@example.com "})
    unknown = await client.post("/store/auth/password-reset", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert without_request_id(known) == without_request_id(unknown)
    assert len(await reset_tokens(session)) == 1
    assert await reset_tokens(session, "ghost@example.com") == []


async def test_reset_sets_a_new_password_once_and_signs_out_everywhere(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    sessions_before = [await pair(client) for _ in range(2)]
    assert (await client.post("/store/auth/password-reset", json={"email": EMAIL})).status_code == 202
    (token,) = await reset_tokens(session)

    # A weak password is refused and does not spend the token.
    weak = await client.post("/store/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert weak.status_code == 422
    assert weak.json()["code"] == "identity.weak_password"

    done = await client.post("/store/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    for old in sessions_before:
        response = await client.get("/store/me", headers=bearer(old["access_token"]))
        assert response.status_code == 401
        assert response.json()["code"] == "auth.session_revoked"
        assert (await client.post("/store/auth/refresh", json={"refresh_token": old["refresh_token"]})
                ).status_code == 401
    reasons = await query(session, "SELECT DISTINCT revoke_reason FROM auth_sessions WHERE subject_kind = 'customer'")
    assert [r.revoke_reason for r in reasons] == ["password_reset"]

    assert (await login(client, PASSWORD)).status_code == 401
    fresh = await pair(client, NEW_PASSWORD)
    # The mailbox is proven by the reset too.
    assert (await client.get("/store/me", headers=bearer(fresh["access_token"]))).json()["email_verified"] is True

    again = await client.post("/store/auth/password-reset/confirm",
                              json={"token": token, "password": "yet another passphrase 3"})
    assert again.status_code == 422
    assert again.json()["code"] == "identity.invalid_token"
    assert (await login(client, NEW_PASSWORD)).status_code == 200


async def test_a_reset_token_older_than_an_hour_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    assert (await client.post("/store/auth/password-reset", json={"email": EMAIL})).status_code == 202
    (token,) = await reset_tokens(session)
    (row,) = await query(session, "SELECT expires_at - created_at AS ttl FROM one_time_tokens"
                                  " WHERE purpose = 'reset_password'")
    assert row.ttl.total_seconds() == 3600
    await query(session, "UPDATE one_time_tokens SET created_at = created_at - interval '61 minutes',"
                         " expires_at = expires_at - interval '61 minutes' WHERE purpose = 'reset_password'")
    response = await client.post("/store/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 422
    assert response.json()["code"] == "identity.invalid_token"
    assert (await login(client, PASSWORD)).status_code == 200


async def test_a_newer_reset_request_voids_the_older_token(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    for _ in range(2):
        assert (await client.post("/store/auth/password-reset", json={"email": EMAIL})).status_code == 202
    older, newer = await reset_tokens(session)
    refused = await client.post("/store/auth/password-reset/confirm", json={"token": older, "password": NEW_PASSWORD})
    assert refused.status_code == 422
    accepted = await client.post("/store/auth/password-reset/confirm", json={"token": newer, "password": NEW_PASSWORD})
    assert accepted.status_code == 204


async def test_a_verification_token_cannot_reset_a_password(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    (row,) = await query(session, "SELECT payload FROM outbox_events WHERE name = 'customer.registered'")
    response = await client.post("/store/auth/password-reset/confirm",
                                 json={"token": row.payload["verification_token"], "password": NEW_PASSWORD})
    assert response.status_code == 422
    assert (await login(client, PASSWORD)).status_code == 200


async def test_reset_requests_take_the_same_time_for_known_and_unknown_emails(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient, customer: str,
) -> None:
    """The unknown path once hashed a dummy password while the known path did not: ~30 ms apart."""
    app = create_app(settings.model_copy(update={"rate_limit_password_reset": "10000/minute"}),
                     database=Database(engine_db.engine, sessionmaker))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    known: list[float] = []
    unknown: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as roomy:
        await roomy.post("/store/auth/password-reset", json={"email": "warm-up@example.com"})
        for i in range(15):
            for email, samples in ((customer, known), (f"ghost{i}@example.com", unknown)):
                started = time.perf_counter()
                response = await roomy.post("/store/auth/password-reset", json={"email": email})
                samples.append(time.perf_counter() - started)
                assert response.status_code == 202
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2, (statistics.median(known), statistics.median(unknown))
