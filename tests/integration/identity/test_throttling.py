"""Sign-in throttling per account (stored in login_throttles, the same for real and made-up
emails, never a permanent lock) and per-IP rate limits on the public auth endpoints."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules.identity.throttle import throttle_key
from tests.fixtures.sql import query

PASSWORD = "velvet orbit thunder 42"
WRONG = "not the password at all"
KNOWN = "known@example.com"
UNKNOWN = "nobody-here@example.com"
# Two free failures, a 1 s delay after them, a lock at the 4th failure.
SMALL = {"login_free_failures": 2, "login_lock_after": 4, "login_max_delay_s": 1, "login_lock_s": 900}

ClientFactory = Callable[..., httpx.AsyncClient]


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


@pytest.fixture
async def client_with(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[ClientFactory]:
    """Clients of apps with other settings, in the test's transaction (each app has its own limiter)."""
    async with AsyncExitStack() as stack:

        def make(ip: str = "127.0.0.1", **overrides: Any) -> httpx.AsyncClient:
            app = create_app(settings.model_copy(update=overrides), database=Database(engine_db.engine, sessionmaker))
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
            return httpx.AsyncClient(transport=transport, base_url="http://test")

        def factory(**overrides: Any) -> httpx.AsyncClient:
            client = make(**overrides)
            stack.push_async_callback(client.aclose)
            return client

        yield factory


@pytest.fixture
async def small(client_with: ClientFactory) -> httpx.AsyncClient:
    client = client_with(**SMALL)
    response = await client.post("/store/auth/register", json={"email": KNOWN, "password": PASSWORD})
    assert response.status_code == 201
    return client


async def login(client: httpx.AsyncClient, email: str, password: str = WRONG, otp: str | None = None) -> httpx.Response:
    body = {"email": email, "password": password} | ({"otp": otp} if otp else {})
    return await client.post("/store/auth/login", json=body)


async def throttle_row(session: AsyncSession, email: str) -> Row[Any] | None:
    rows = await query(session, "SELECT * FROM login_throttles WHERE key = :key",
                       key=throttle_key("customer", email))
    return rows[0] if rows else None


async def let_delay_pass(session: AsyncSession, email: str) -> None:
    await query(session, "UPDATE login_throttles SET last_failure_at = last_failure_at - interval '1 hour'"
                         " WHERE key = :key", key=throttle_key("customer", email))


def assert_429(response: httpx.Response, code: str, retry_after: range) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert int(response.headers["retry-after"]) in retry_after


async def test_delays_start_after_the_free_failures_for_known_and_unknown_emails_alike(
    small: httpx.AsyncClient, session: AsyncSession
) -> None:
    answers: dict[str, list[httpx.Response]] = {}
    for email in (KNOWN, UNKNOWN):
        answers[email] = [await login(small, email) for _ in range(3)]
        assert [r.status_code for r in answers[email][:2]] == [401, 401]
        assert_429(answers[email][2], "auth.throttled", range(1, 2))
        # Refused attempts are not counted: waiting is enough to get a hearing again.
        row = await throttle_row(session, email)
        assert row is not None
        assert row.failures == 2
        assert row.blocked_until is None
    for known, unknown in zip(answers[KNOWN], answers[UNKNOWN], strict=True):
        assert known.status_code == unknown.status_code
        assert without_request_id(known) == without_request_id(unknown)
        assert known.headers.get("retry-after") == unknown.headers.get("retry-after")
    # Even the right password waits its turn (otherwise the 429 would be an oracle).
    assert_429(await login(small, KNOWN, PASSWORD), "auth.throttled", range(1, 2))
    await let_delay_pass(session, KNOWN)
    assert (await login(small, KNOWN, PASSWORD)).status_code == 200


async def test_the_delay_really_ends(small: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await login(small, KNOWN)).status_code == 401
    assert (await login(small, KNOWN, PASSWORD)).status_code == 429
    await asyncio.sleep(1.05)
    assert (await login(small, KNOWN, PASSWORD)).status_code == 200


async def test_the_lock_comes_at_lock_after_failures_and_expires(
    small: httpx.AsyncClient, session: AsyncSession
) -> None:
    for email in (KNOWN, UNKNOWN):
        for attempt in range(4):
            if attempt >= 2:
                await let_delay_pass(session, email)
            assert (await login(small, email)).status_code == 401
        row = await throttle_row(session, email)
        assert row is not None
        assert row.failures == 4
        assert row.blocked_until is not None
    known = await login(small, KNOWN, PASSWORD)  # the right password: still locked
    unknown = await login(small, UNKNOWN)
    assert_429(known, "auth.locked", range(890, 901))
    assert without_request_id(known) == without_request_id(unknown)

    # The lock ends on its own: move it into the past.
    await query(session, "UPDATE login_throttles SET blocked_until = now() - interval '1 second',"
                         " last_failure_at = now() - interval '20 minutes'")
    assert (await login(small, KNOWN, PASSWORD)).status_code == 200
    assert await throttle_row(session, KNOWN) is None  # success clears the count
    assert (await login(small, KNOWN)).status_code == 401  # a fresh start: one failure is free again
    assert (await login(small, KNOWN, PASSWORD)).status_code == 200

    # Failures of the unknown email carry on after the lock (delay, then the next lock), never for good.
    assert (await login(small, UNKNOWN)).status_code == 401
    assert_429(await login(small, UNKNOWN), "auth.throttled", range(1, 2))


async def test_throttled_sign_ins_are_audited(small: httpx.AsyncClient, session: AsyncSession) -> None:
    for _ in range(3):
        await login(small, UNKNOWN)
    rows = await query(session, "SELECT event, details FROM audit_log WHERE event LIKE 'login.%' ORDER BY occurred_at")
    assert [r.event for r in rows] == ["login.failed", "login.failed", "login.throttled"]
    assert rows[0].details == {"reason": "password", "known_account": False}
    assert rows[2].details == {"kind": "customer", "code": "auth.throttled"}


async def test_a_password_reset_lifts_the_lock(small: httpx.AsyncClient, session: AsyncSession) -> None:
    for attempt in range(4):
        if attempt >= 2:
            await let_delay_pass(session, KNOWN)
        await login(small, KNOWN)
    assert (await login(small, KNOWN, PASSWORD)).json()["code"] == "auth.locked"
    assert (await small.post("/store/auth/password-reset", json={"email": KNOWN})).status_code == 202
    (event,) = await query(session, "SELECT payload FROM outbox_events"
                                    " WHERE name = 'customer.password_reset_requested'")
    new_password = "a brand new passphrase 7"
    confirmed = await small.post("/store/auth/password-reset/confirm",
                                 json={"token": event.payload["reset_token"], "password": new_password})
    assert confirmed.status_code == 204
    assert (await login(small, KNOWN, new_password)).status_code == 200


async def test_a_second_factor_prompt_is_not_a_failure_but_a_wrong_code_is(
    small: httpx.AsyncClient, session: AsyncSession
) -> None:
    secret = pyotp.random_base32()
    await query(session, "UPDATE customers SET mfa_totp_secret = :secret, mfa_enabled_at = now()"
                         " WHERE email = :email", secret=secret, email=KNOWN)
    for _ in range(3):
        prompt = await login(small, KNOWN, PASSWORD)
        assert prompt.status_code == 401
        assert prompt.json()["code"] == "auth.mfa_required"
    assert await throttle_row(session, KNOWN) is None

    totp = pyotp.TOTP(secret)
    accepted_now = {totp.at(time.time() + drift) for drift in (-30, 0, 30)}
    wrong_code = next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted_now)
    wrong = await login(small, KNOWN, PASSWORD, otp=wrong_code)
    assert wrong.json()["code"] == "auth.invalid_otp"
    row = await throttle_row(session, KNOWN)
    assert row is not None
    assert row.failures == 1
    ok = await login(small, KNOWN, PASSWORD, otp=pyotp.TOTP(secret).now())
    assert ok.status_code == 200, ok.text
    assert await throttle_row(session, KNOWN) is None


# ---- per-IP rate limits -----------------------------------------------------------------------


async def test_login_is_rate_limited_per_ip(client_with: ClientFactory) -> None:
    first = client_with(rate_limit_login="3/minute")
    statuses = [(await login(first, f"user{i}@example.com")).status_code for i in range(4)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    limited = await login(first, "someone-else@example.com")
    assert_429(limited, "rate_limited", range(1, 61))


async def test_the_rate_limit_counts_each_ip_apart(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_login": "2/minute"}),
                     database=Database(engine_db.engine, sessionmaker))

    def client_from(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async with client_from("198.51.100.1") as one, client_from("198.51.100.2") as two:
        assert [(await login(one, f"a{i}@example.com")).status_code for i in range(3)] == [401, 401, 429]
        assert [(await login(two, f"b{i}@example.com")).status_code for i in range(2)] == [401, 401]


async def test_registration_is_rate_limited_per_ip(client_with: ClientFactory) -> None:
    client = client_with(rate_limit_register="3/minute")
    statuses = [
        (await client.post("/store/auth/register", json={"email": f"r{i}@example.com", "password": PASSWORD}))
        for i in range(4)
    ]
    assert [r.status_code for r in statuses[:3]] == [201, 201, 201]
    assert_429(statuses[3], "rate_limited", range(1, 61))


async def test_password_reset_requests_are_rate_limited_per_ip(client_with: ClientFactory) -> None:
    client = client_with(rate_limit_password_reset="3/minute")
    statuses = [(await client.post("/store/auth/password-reset", json={"email": f"p{i}@example.com"}))
                for i in range(4)]
    assert [r.status_code for r in statuses[:3]] == [202, 202, 202]
    assert_429(statuses[3], "rate_limited", range(1, 61))


# ---- a burst of parallel guesses (committed database, real pool) --------------------------------


async def test_a_parallel_burst_is_throttled_like_a_sequence(
    settings: Settings, fresh_database: Callable[[], str]
) -> None:
    """Attempts are counted before the password is checked: twenty guesses sent at once get as
    many hearings as the free failures allow, not twenty (they used to, when counting came after)."""
    tuned = settings.model_copy(update={**SMALL, "login_lock_after": 100, "rate_limit_login": "1000/minute"})
    db = Database.connect(fresh_database(), tuned)
    transport = httpx.ASGITransport(app=create_app(tuned, database=db), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
            assert (await client.post("/store/auth/register", json={"email": KNOWN, "password": PASSWORD})
                    ).status_code == 201
            for email in (KNOWN, UNKNOWN):
                burst = await asyncio.gather(*(login(client, email) for _ in range(20)))
                assert Counter(r.status_code for r in burst) == {401: 2, 429: 18}, [r.text for r in burst]
            async with db.sessionmaker() as check:
                counts = (await check.execute(text("SELECT failures FROM login_throttles"))).scalars().all()
            assert sorted(counts) == [2, 2]
    finally:
        await db.dispose()
