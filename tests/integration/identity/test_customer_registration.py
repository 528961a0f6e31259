"""Customer registration over HTTP: normalised emails, the password policy, answers that never
reveal who has an account, and the single-use email-verification link."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

PASSWORD = "velvet orbit thunder 42"
PROBLEM = "application/problem+json"


async def query(session: AsyncSession, statement: str, **params: Any) -> list[Row[Any]]:
    """Run SQL in the test's transaction and commit (releasing its savepoint) so the app sees it."""
    result = await session.execute(text(statement), params)
    rows = list(result.all()) if statement.lstrip().upper().startswith("SELECT") else []
    await session.commit()
    return rows


async def events(session: AsyncSession, name: str, email: str) -> list[dict[str, Any]]:
    rows = await query(session, "SELECT payload FROM outbox_events WHERE name = :name AND payload->>'email' = :email"
                                " ORDER BY created_at, id", name=name, email=email)
    return [row.payload for row in rows]


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def register(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    return await client.post("/store/auth/register", json={"email": email, "password": password, **extra})


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/store/auth/login", json={"email": email, "password": password})


async def test_register_answers_201_with_the_normalised_email(client: httpx.AsyncClient, session: AsyncSession) -> None:
    response = await register(client, "  Ada.Lovelace@Example.COM ", first_name=" Ada ", last_name="Lovelace")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ada.lovelace@example.com"
    assert body["verification_required"] is True
    (row,) = await query(session, "SELECT email, first_name, email_verified_at, password_hash FROM customers"
                                  " WHERE lower(email) = 'ada.lovelace@example.com'")
    assert row.email == "ada.lovelace@example.com"
    assert row.first_name == "Ada"
    assert row.email_verified_at is None
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    # Any spelling of the address signs in.
    assert (await login(client, "ADA.LOVELACE@example.com ")).status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "extra", "message"),
    [
        ("short@example.com", "tiny pass", {}, "Use at least 10 characters."),
        ("common@example.com", "password1234", {}, "This password is too common; choose another."),
        ("common-mixed@example.com", "PassWord1234", {}, "This password is too common; choose another."),
        ("jonathan.harker@example.com", "x-JONATHAN.HARKER-x", {},
         "Do not use your email address or name in your password."),
        ("van.helsing@example.com", "professor helsing 1897", {},
         "Do not use your email address or name in your password."),
        ("mina@example.com", "wilhelmina rides east", {"first_name": "Wilhelmina"},
         "Do not use your email address or name in your password."),
        ("long@example.com", "a" * 257, {}, "Use at most 256 characters."),
    ],
    ids=["too-short", "common", "common-any-case", "email-local-part", "piece-of-local-part", "first-name",
         "too-long"],
)
async def test_weak_passwords_are_refused_with_field_errors(
    client: httpx.AsyncClient, session: AsyncSession, email: str, password: str, extra: dict[str, str],
    message: str,
) -> None:
    response = await register(client, email, password, **extra)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "identity.weak_password"
    assert {"field": "password", "code": "weak_password", "message": message} in body["errors"]
    assert all(error["field"] == "password" for error in body["errors"])
    assert await query(session, "SELECT 1 FROM customers WHERE email = :email", email=email) == []


def test_the_common_password_used_above_is_on_the_list() -> None:
    from mercato.modules.identity.passwords import common_passwords

    assert "password1234" in common_passwords()


@pytest.mark.parametrize("email", ["no-at-sign", "two words@example.com", "@example.com", "x@nodot", "x@.com"])
async def test_malformed_emails_are_refused(client: httpx.AsyncClient, email: str) -> None:
    response = await register(client, email)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


async def test_registering_a_taken_email_looks_exactly_like_a_new_registration(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await register(client, "grace@example.com", first_name="Grace")
    assert first.status_code == 201
    (before,) = await query(session, "SELECT * FROM customers WHERE email = 'grace@example.com'")

    again = await register(client, " GRACE@example.com", "another passphrase entirely", first_name="Mallory")
    fresh = await register(client, "hopper@example.com", "another passphrase entirely")
    assert again.status_code == fresh.status_code == 201
    assert without_request_id(again) == {**without_request_id(fresh), "email": "grace@example.com"}
    assert again.headers["content-type"] == fresh.headers["content-type"]

    # The owner is told (by mail, through the outbox); the account is untouched.
    (notice,) = await events(session, "customer.registration_attempted", "grace@example.com")
    assert notice["customer_id"] == str(before.id)
    (after,) = await query(session, "SELECT * FROM customers WHERE email = 'grace@example.com'")
    assert after._asdict() == before._asdict()
    assert len(await events(session, "customer.registered", "grace@example.com")) == 1
    assert (await login(client, "grace@example.com")).status_code == 200
    assert (await login(client, "grace@example.com", "another passphrase entirely")).status_code == 401


async def test_weak_password_for_a_taken_email_is_refused_like_any_other(client: httpx.AsyncClient) -> None:
    """The policy is checked before the look-up, so a 422 says nothing about the address either."""
    assert (await register(client, "taken@example.com")).status_code == 201
    taken = await register(client, "taken@example.com", "short")
    free = await register(client, "free@example.com", "short")
    assert taken.status_code == free.status_code == 422
    assert without_request_id(taken) == without_request_id(free)


async def test_registration_emits_a_verification_token_that_verifies_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (await register(client, "Alan@Example.com")).status_code == 201
    (registered,) = await events(session, "customer.registered", "alan@example.com")
    token = registered["verification_token"]
    assert len(token) >= 40
    # Only a digest is stored.
    assert await query(session, "SELECT 1 FROM one_time_tokens WHERE token_hash = :t", t=token) == []

    access = (await login(client, "alan@example.com")).json()["access_token"]
    me = await client.get("/store/me", headers={"authorization": f"Bearer {access}"})
    assert me.status_code == 200
    assert me.json()["email_verified"] is False
    assert me.json()["id"] == registered["customer_id"]

    verified = await client.post("/store/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    me = await client.get("/store/me", headers={"authorization": f"Bearer {access}"})
    assert me.json()["email_verified"] is True

    again = await client.post("/store/auth/verify-email", json={"token": token})
    assert again.status_code == 422
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.json()["code"] == "identity.invalid_token"
    assert again.json()["errors"][0]["field"] == "token"


async def test_expired_and_unknown_verification_tokens_are_refused_alike(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (await register(client, "late@example.com")).status_code == 201
    (registered,) = await events(session, "customer.registered", "late@example.com")
    await query(session, "UPDATE one_time_tokens SET expires_at = now() - interval '1 second'"
                         " WHERE subject_id = :id", id=registered["customer_id"])

    expired = await client.post("/store/auth/verify-email", json={"token": registered["verification_token"]})
    unknown = await client.post("/store/auth/verify-email", json={"token": "not-a-token-we-ever-issued"})
    assert expired.status_code == unknown.status_code == 422
    assert without_request_id(expired) == without_request_id(unknown)
    assert expired.json()["code"] == "identity.invalid_token"
    (row,) = await query(session, "SELECT email_verified_at FROM customers WHERE email = 'late@example.com'")
    assert row.email_verified_at is None


async def test_a_resent_link_replaces_the_first(client: httpx.AsyncClient, session: AsyncSession) -> None:
    assert (await register(client, "resend@example.com")).status_code == 201
    (registered,) = await events(session, "customer.registered", "resend@example.com")
    access = (await login(client, "resend@example.com")).json()["access_token"]
    resent = await client.post("/store/me/verify-email/resend", headers={"authorization": f"Bearer {access}"})
    assert resent.status_code == 202
    (requested,) = await events(session, "customer.email_verification_requested", "resend@example.com")
    assert requested["verification_token"] != registered["verification_token"]

    old = await client.post("/store/auth/verify-email", json={"token": registered["verification_token"]})
    assert old.status_code == 422
    new = await client.post("/store/auth/verify-email", json={"token": requested["verification_token"]})
    assert new.status_code == 200


async def test_a_password_reset_token_does_not_verify_an_email(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (await register(client, "purpose@example.com")).status_code == 201
    assert (await client.post("/store/auth/password-reset", json={"email": "purpose@example.com"})).status_code == 202
    (reset,) = await events(session, "customer.password_reset_requested", "purpose@example.com")
    response = await client.post("/store/auth/verify-email", json={"token": reset["reset_token"]})
    assert response.status_code == 422
    assert response.json()["code"] == "identity.invalid_token"
