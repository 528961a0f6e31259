"""Customer sessions over HTTP: sign-in, rotating refresh tokens with reuse detection that revokes
the whole family, sign-out, and the customer's own list of sessions."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.http import bearer
from tests.fixtures.sql import query

PASSWORD = "velvet orbit thunder 42"
PROBLEM = "application/problem+json"


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **headers: str) -> dict[str, Any]:
    response = await client.post("/store/auth/login", json={"email": email, "password": password}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/store/auth/refresh", json={"refresh_token": token})


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


@pytest.fixture
async def customer(client: httpx.AsyncClient) -> str:
    email = "sessions@example.com"
    response = await client.post("/store/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
    return email


async def test_login_returns_a_pair_that_opens_the_account(client: httpx.AsyncClient, customer: str) -> None:
    pair = await login(client, customer)
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert pair["refresh_token"].startswith("rt_")
    me = await client.get("/store/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == customer


async def test_me_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/store/me")
    assert_problem(response, 401, "auth.unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_problem(await client.get("/store/me", headers={"authorization": "Basic abc"}), 401, "auth.invalid_header")


async def test_refresh_rotates_and_a_reused_token_revokes_the_whole_family(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    first = await login(client, customer)
    second_response = await refresh(client, first["refresh_token"])
    assert second_response.status_code == 200
    second = second_response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    third = (await refresh(client, second["refresh_token"])).json()
    assert (await client.get("/store/me", headers=bearer(third["access_token"]))).status_code == 200

    # The first token again: somebody kept a copy. Everything of this session dies.
    assert_problem(await refresh(client, first["refresh_token"]), 401, "auth.refresh_token_reused")
    assert_problem(await refresh(client, third["refresh_token"]), 401, "auth.session_expired")
    assert_problem(await client.get("/store/me", headers=bearer(third["access_token"])), 401,
                   "auth.session_revoked")
    assert_problem(await client.get("/store/me", headers=bearer(first["access_token"])), 401,
                   "auth.session_revoked")

    # Revoked in the database (not only in this process's cache), and audited.
    (row,) = await query(session, "SELECT id, revoked_at, revoke_reason FROM auth_sessions"
                                  " WHERE subject_kind = 'customer' AND subject_id ="
                                  " (SELECT id FROM customers WHERE email = :email)", email=customer)
    assert row.revoked_at is not None
    assert row.revoke_reason == "refresh_reuse"
    audited = await query(session, "SELECT details FROM audit_log WHERE event = 'session.reuse_detected'")
    assert [entry.details for entry in audited] == [{"session_id": str(row.id)}]
    # A fresh sign-in still works: the account is not locked, only that session is gone.
    fresh = await login(client, customer)
    assert (await client.get("/store/me", headers=bearer(fresh["access_token"]))).status_code == 200


async def test_reuse_revokes_only_the_affected_session(client: httpx.AsyncClient, customer: str) -> None:
    stolen = await login(client, customer)
    other = await login(client, customer)
    assert (await refresh(client, stolen["refresh_token"])).status_code == 200
    assert (await refresh(client, stolen["refresh_token"])).status_code == 401
    assert (await client.get("/store/me", headers=bearer(other["access_token"]))).status_code == 200
    assert (await refresh(client, other["refresh_token"])).status_code == 200


@pytest.mark.parametrize("token", ["rt_unknown", "x" * 200, "not a token at all"])
async def test_unknown_refresh_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    assert_problem(await refresh(client, token), 401, "auth.invalid_refresh_token")


async def test_malformed_refresh_bodies_are_422_not_500(client: httpx.AsyncClient) -> None:
    for body in ({}, {"refresh_token": ""}, {"refresh_token": "x" * 201}, {"refresh_token": 5},
                 {"refresh_token": "rt_x", "extra": 1}):
        response = await client.post("/store/auth/refresh", json=body)
        assert response.status_code == 422, (body, response.text)


async def test_an_expired_session_cannot_be_refreshed(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    pair = await login(client, customer)
    await query(session, "UPDATE auth_sessions SET idle_expires_at = now() - interval '1 second'"
                         " WHERE subject_id = (SELECT id FROM customers WHERE email = :email)", email=customer)
    assert_problem(await refresh(client, pair["refresh_token"]), 401, "auth.session_expired")


async def test_logout_revokes_the_session_and_its_refresh_token(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    pair = await login(client, customer)
    other = await login(client, customer)
    assert (await client.get("/store/me", headers=bearer(pair["access_token"]))).status_code == 200
    out = await client.post("/store/auth/logout", headers=bearer(pair["access_token"]))
    assert out.status_code == 204
    assert_problem(await client.get("/store/me", headers=bearer(pair["access_token"])), 401, "auth.session_revoked")
    assert_problem(await refresh(client, pair["refresh_token"]), 401, "auth.session_expired")
    assert_problem(await client.post("/store/auth/logout", headers=bearer(pair["access_token"])), 401,
                   "auth.session_revoked")
    # Other devices stay signed in.
    assert (await client.get("/store/me", headers=bearer(other["access_token"]))).status_code == 200
    reasons = await query(session, "SELECT revoke_reason FROM auth_sessions WHERE revoked_at IS NOT NULL"
                                   " AND subject_kind = 'customer'")
    assert [r.revoke_reason for r in reasons] == ["logout"]


async def test_logout_needs_a_customer_token(client: httpx.AsyncClient, staff_token: str) -> None:
    assert_problem(await client.post("/store/auth/logout"), 401, "auth.unauthenticated")
    assert_problem(await client.post("/store/auth/logout", headers=bearer(staff_token)), 401, "auth.unauthenticated")


async def test_session_list_marks_the_current_one(client: httpx.AsyncClient, customer: str) -> None:
    await login(client, customer, **{"user-agent": "phone/1.0"})
    laptop = await login(client, customer, **{"user-agent": "laptop/2.0"})
    listed = await client.get("/store/me/sessions", headers=bearer(laptop["access_token"]))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 2
    by_agent = {item["user_agent"]: item for item in items}
    assert by_agent["laptop/2.0"]["current"] is True
    assert by_agent["phone/1.0"]["current"] is False
    assert by_agent["phone/1.0"]["ip"] == "127.0.0.1"
    # The list never shows another customer's sessions.
    assert (await client.post("/store/auth/register", json={"email": "b@example.com", "password": PASSWORD})
            ).status_code == 201
    other = await login(client, "b@example.com")
    theirs = (await client.get("/store/me/sessions", headers=bearer(other["access_token"]))).json()["items"]
    assert [item["current"] for item in theirs] == [True]
    assert theirs[0]["id"] not in {item["id"] for item in items}


async def test_revoke_one_session(client: httpx.AsyncClient, customer: str) -> None:
    phone = await login(client, customer)
    laptop = await login(client, customer)
    items = (await client.get("/store/me/sessions", headers=bearer(laptop["access_token"]))).json()["items"]
    (phone_id,) = [item["id"] for item in items if not item["current"]]

    # Someone else's session, a made-up id and a malformed id all look the same: 404.
    assert (await client.post("/store/auth/register", json={"email": "c@example.com", "password": PASSWORD})
            ).status_code == 201
    intruder = await login(client, "c@example.com")
    for target in (phone_id, str(uuid.uuid4()), "not-a-uuid"):
        response = await client.delete(f"/store/me/sessions/{target}", headers=bearer(intruder["access_token"]))
        assert_problem(response, 404, "session.not_found")
    assert (await client.get("/store/me", headers=bearer(phone["access_token"]))).status_code == 200

    revoked = await client.delete(f"/store/me/sessions/{phone_id}", headers=bearer(laptop["access_token"]))
    assert revoked.status_code == 204
    assert_problem(await client.get("/store/me", headers=bearer(phone["access_token"])), 401, "auth.session_revoked")
    assert_problem(await refresh(client, phone["refresh_token"]), 401, "auth.session_expired")
    assert (await client.get("/store/me", headers=bearer(laptop["access_token"]))).status_code == 200
    again = await client.delete(f"/store/me/sessions/{phone_id}", headers=bearer(laptop["access_token"]))
    assert_problem(again, 404, "session.not_found")
    remaining = (await client.get("/store/me/sessions", headers=bearer(laptop["access_token"]))).json()["items"]
    assert [item["current"] for item in remaining] == [True]


async def test_revoke_all_sessions_signs_out_everywhere(client: httpx.AsyncClient, customer: str) -> None:
    pairs = [await login(client, customer) for _ in range(3)]
    assert (await client.post("/store/auth/register", json={"email": "d@example.com", "password": PASSWORD})
            ).status_code == 201
    bystander = await login(client, "d@example.com")
    response = await client.delete("/store/me/sessions", headers=bearer(pairs[0]["access_token"]))
    assert response.status_code == 204
    for pair in pairs:
        assert_problem(await client.get("/store/me", headers=bearer(pair["access_token"])), 401,
                       "auth.session_revoked")
        assert_problem(await refresh(client, pair["refresh_token"]), 401, "auth.session_expired")
    assert (await client.get("/store/me", headers=bearer(bystander["access_token"]))).status_code == 200


async def test_a_disabled_account_can_neither_refresh_nor_use_its_tokens(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    pair = await login(client, customer)
    await query(session, "UPDATE customers SET is_active = false WHERE email = :email", email=customer)
    assert_problem(await client.get("/store/me", headers=bearer(pair["access_token"])), 401, "auth.account_disabled")
    assert_problem(await refresh(client, pair["refresh_token"]), 401, "auth.account_disabled")
    # Refused without being spent: once the account is enabled again, the token still works.
    await query(session, "UPDATE customers SET is_active = true WHERE email = :email", email=customer)
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_authenticating_a_request_costs_no_query_once_the_session_is_cached(
    client: httpx.AsyncClient, customer: str, assert_max_queries: Any
) -> None:
    token = (await login(client, customer))["access_token"]
    assert (await client.get("/store/me", headers=bearer(token))).status_code == 200  # fills the cache
    with assert_max_queries(1) as counter:  # the profile read itself, nothing for authentication
        assert (await client.get("/store/me", headers=bearer(token))).status_code == 200
    assert len(counter.statements) == 1
    assert "customers" in counter.statements[0]
