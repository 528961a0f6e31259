"""Refresh-token rotation under real concurrency: a committed database, a real connection pool,
many requests in flight at once. (The per-test rolled-back transaction of the other tests runs
everything on one connection, which hides lock waits between transactions.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import text

from tests.fixtures.live import Live, register_and_login

PASSWORD = "velvet orbit thunder 42"




async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    return await register_and_login(client, email, PASSWORD)


async def test_reuse_on_a_real_pool_revokes_promptly(live: Live) -> None:
    """Reuse detection writes the revocation in a second transaction; it must not wait on the
    request's own row locks (it once did, until the statement timeout, and then answered 500)."""
    pair = await sign_in(live.client, "reuse@example.com")
    assert (await live.client.post("/store/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            ).status_code == 200
    reused = await asyncio.wait_for(
        live.client.post("/store/auth/refresh", json={"refresh_token": pair["refresh_token"]}), timeout=4
    )
    assert reused.status_code == 401, reused.text
    assert reused.json()["code"] == "auth.refresh_token_reused"
    async with live.db.sessionmaker() as check:
        reason = await check.scalar(text("SELECT revoke_reason FROM auth_sessions"))
    assert reason == "refresh_reuse"


async def test_twenty_concurrent_refreshes_with_one_token(live: Live) -> None:
    """Exactly one wins; the others are reuse, so the session is revoked — the winner's new tokens
    included. Two tabs racing to refresh therefore sign the device out: the price of treating
    every second use of a refresh token as theft, which is the only thing the server can tell."""
    pair = await sign_in(live.client, "race@example.com")
    responses = await asyncio.gather(
        *(live.client.post("/store/auth/refresh", json={"refresh_token": pair["refresh_token"]}) for _ in range(20))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 401: 19}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 401} == {"auth.refresh_token_reused"}
    (winner,) = [r.json() for r in responses if r.status_code == 200]

    async with live.db.sessionmaker() as check:
        sessions = (await check.execute(text("SELECT revoked_at, revoke_reason FROM auth_sessions"))).all()
        tokens = (await check.execute(text("SELECT used_at FROM refresh_tokens ORDER BY issued_at"))).all()
        audited = await check.scalar(text("SELECT count(*) FROM audit_log WHERE event = 'session.reuse_detected'"))
    assert [(s.revoked_at is not None, s.revoke_reason) for s in sessions] == [(True, "refresh_reuse")]
    # The original token was spent once and exactly one successor was issued.
    assert len(tokens) == 2
    assert tokens[0].used_at is not None
    assert tokens[1].used_at is None
    assert audited == 19

    me = await live.client.get("/store/me", headers={"authorization": f"Bearer {winner['access_token']}"})
    assert me.status_code == 401
    assert me.json()["code"] == "auth.session_revoked"
    late = await live.client.post("/store/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert late.status_code == 401


async def test_concurrent_rotations_of_different_sessions_do_not_interfere(live: Live) -> None:
    pairs = [await sign_in(live.client, f"many{i}@example.com") for i in range(10)]
    responses = await asyncio.gather(
        *(live.client.post("/store/auth/refresh", json={"refresh_token": p["refresh_token"]}) for p in pairs)
    )
    assert [r.status_code for r in responses] == [200] * 10
    checks = await asyncio.gather(
        *(live.client.get("/store/me", headers={"authorization": f"Bearer {r.json()['access_token']}"})
          for r in responses)
    )
    assert [c.json()["email"] for c in checks] == [f"many{i}@example.com" for i in range(10)]


async def test_concurrent_registrations_of_one_email_all_get_the_same_answer(live: Live) -> None:
    """Both registrations pass the look-up before either inserts; the loser must not see a 500."""
    responses = await asyncio.gather(
        *(live.client.post("/store/auth/register", json={"email": "twin@example.com", "password": PASSWORD})
          for _ in range(8))
    )
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert len({r.json()["email"] for r in responses}) == 1
    async with live.db.sessionmaker() as check:
        customers = await check.scalar(text("SELECT count(*) FROM customers WHERE email = 'twin@example.com'"))
        registered = await check.scalar(text("SELECT count(*) FROM outbox_events WHERE name = 'customer.registered'"))
        attempted = await check.scalar(
            text("SELECT count(*) FROM outbox_events WHERE name = 'customer.registration_attempted'")
        )
    assert customers == 1
    assert registered == 1
    assert attempted == 7
