"""Customer sign-in: answers and timing that do not tell real accounts from made-up ones, and
password hashes upgraded to the current argon2 parameters on the next sign-in."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import argon2
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules.identity.passwords import hash_password, needs_rehash, verify_password

PASSWORD = "velvet orbit thunder 42"
EMAIL = "login@example.com"


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/store/auth/login", json={"email": email, "password": password})


@pytest.fixture
async def customer(client: httpx.AsyncClient) -> str:
    response = await client.post("/store/auth/register", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    return EMAIL


async def test_unknown_email_and_wrong_password_get_the_same_answer(client: httpx.AsyncClient, customer: str) -> None:
    wrong = await login(client, customer, "not the password at all")
    unknown = await login(client, "ghost@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert without_request_id(wrong) == without_request_id(unknown)
    assert wrong.json()["code"] == "auth.invalid_credentials"
    for header in ("content-type", "www-authenticate", "retry-after"):
        assert wrong.headers.get(header) == unknown.headers.get(header)


async def test_a_disabled_account_looks_like_a_wrong_password(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    await session.execute(text("UPDATE customers SET is_active = false WHERE email = :e"), {"e": customer})
    await session.commit()
    disabled = await login(client, customer, PASSWORD)
    unknown = await login(client, "ghost@example.com", PASSWORD)
    assert disabled.status_code == 401
    assert without_request_id(disabled) == without_request_id(unknown)


async def test_failed_sign_ins_are_audited_without_saying_more_over_http(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    await login(client, customer, "not the password at all")
    await login(client, "ghost@example.com", "not the password at all")
    assert (await login(client, customer, PASSWORD)).status_code == 200
    rows = (await session.execute(text(
        "SELECT event, subject_id IS NOT NULL AS has_subject, details FROM audit_log"
        " WHERE event LIKE 'login.%' ORDER BY occurred_at"))).all()
    await session.commit()
    assert [(r.event, r.has_subject, r.details.get("known_account")) for r in rows] == [
        ("login.failed", True, True), ("login.failed", False, False), ("login.succeeded", True, None),
    ]


@pytest.fixture
async def roomy(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """No per-IP limit and no per-account throttle in the way of many attempts."""
    tuned = settings.model_copy(update={"rate_limit_login": "10000/minute", "login_free_failures": 10_000,
                                        "login_lock_after": 10_000})
    app = create_app(tuned, database=Database(engine_db.engine, sessionmaker))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_unknown_email_and_wrong_password_take_the_same_time(roomy: httpx.AsyncClient, customer: str) -> None:
    """Both paths verify an argon2 hash (the unknown one against a dummy hash) and write the same
    records, so response time says nothing about whether the account exists."""
    reference = hash_password("something else entirely")
    argon2_runs = []
    for _ in range(5):
        started = time.perf_counter()
        verify_password(reference, "a guess")
        argon2_runs.append(time.perf_counter() - started)
    one_verify = statistics.median(argon2_runs)

    known: list[float] = []
    unknown: list[float] = []
    await login(roomy, "warm-up@example.com", "not the password")  # first-use costs out of the way
    for i in range(15):  # interleaved, so drift of the machine affects both alike
        for email, samples in ((customer, known), (f"ghost{i}@example.com", unknown)):
            started = time.perf_counter()
            response = await login(roomy, email, "not the password at all")
            samples.append(time.perf_counter() - started)
            assert response.status_code == 401
    known_median, unknown_median = statistics.median(known), statistics.median(unknown)
    assert 0.5 < known_median / unknown_median < 2, (known_median, unknown_median)
    # Each path includes the hashing work: neither is a quick "no such user".
    assert known_median > 0.8 * one_verify, (known_median, one_verify)
    assert unknown_median > 0.8 * one_verify, (unknown_median, one_verify)


async def test_a_weaker_hash_is_upgraded_at_the_next_sign_in(
    client: httpx.AsyncClient, session: AsyncSession, customer: str
) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    assert needs_rehash(weak)
    await session.execute(text("UPDATE customers SET password_hash = :h WHERE email = :e"), {"h": weak, "e": customer})
    await session.commit()

    # A failed attempt does not touch the hash.
    assert (await login(client, customer, "not the password at all")).status_code == 401
    assert await session.scalar(text("SELECT password_hash FROM customers WHERE email = :e"), {"e": customer}) == weak

    assert (await login(client, customer, PASSWORD)).status_code == 200
    upgraded = await session.scalar(text("SELECT password_hash FROM customers WHERE email = :e"), {"e": customer})
    await session.commit()
    assert upgraded != weak
    assert not needs_rehash(upgraded)
    assert verify_password(upgraded, PASSWORD)
    assert (await login(client, customer, PASSWORD)).status_code == 200
    again = await session.scalar(text("SELECT password_hash FROM customers WHERE email = :e"), {"e": customer})
    assert again == upgraded
