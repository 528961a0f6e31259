"""GDPR requests over HTTP: the data export and the erasure of an account."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.identity import mfa
from mercato.modules.identity.models import Customer
from mercato.modules.identity.passwords import UNUSABLE_PASSWORD
from mercato.modules.identity.tokens import issue_access_token

PASSWORD = "a long enough passphrase"
BROWSER = {"user-agent": "PrivacyTest/1.0 (X11; Linux)"}
BERLIN = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Heidestraße 17", "city": "Berlin",
          "postal_code": "10557", "country_code": "DE", "phone": "+49 30 1234567"}


async def query(session: AsyncSession, statement: str, **params: Any) -> list[Row[Any]]:
    rows = list((await session.execute(text(statement), params)).all())
    await session.commit()
    return rows


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    return await client.post("/store/auth/login", json={"email": email, "password": password, **extra},
                             headers=BROWSER)


async def sign_up(client: httpx.AsyncClient, email: str, **extra: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Register and sign in; returns (auth headers, token pair)."""
    registered = await client.post("/store/auth/register", json={"email": email, "password": PASSWORD, **extra})
    assert registered.status_code == 201, registered.text
    pair = await login(client, email)
    assert pair.status_code == 200, pair.text
    tokens: dict[str, Any] = pair.json()
    return {"authorization": f"Bearer {tokens['access_token']}", **BROWSER}, tokens


async def fill_account(client: httpx.AsyncClient, auth: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Preferences, an address and a wishlist with one item; returns (address, wishlist)."""
    patched = await client.patch("/store/me", headers=auth, json={"phone": "+49 171 2345678", "locale": "de-DE",
                                                                  "currency": "EUR"})
    assert patched.status_code == 200, patched.text
    address = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, "is_default_shipping": True})
    assert address.status_code == 201, address.text
    wishlist = await client.post("/store/me/wishlists", headers=auth, json={"name": "Birthday"})
    assert wishlist.status_code == 201
    item = await client.post(f"/store/me/wishlists/{wishlist.json()['id']}/items", headers=auth,
                             json={"variant_id": str(uuid.uuid4()), "note": "size 38"})
    assert item.status_code == 201
    detail = await client.get(f"/store/me/wishlists/{wishlist.json()['id']}", headers=auth)
    return address.json(), detail.json()


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def test_export_holds_everything_about_the_customer(client: httpx.AsyncClient, session: AsyncSession) -> None:
    auth, _ = await sign_up(client, "erika@example.com", first_name="Erika", last_name="Mustermann",
                            marketing_consent=True)
    address, wishlist = await fill_account(client, auth)
    response = await client.get("/store/me/export", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment;")
    data = response.json()
    customer_id = data["profile"]["id"]
    assert {k: data["profile"][k] for k in ("email", "first_name", "last_name", "phone", "mfa_enabled")} == {
        "email": "erika@example.com", "first_name": "Erika", "last_name": "Mustermann", "phone": "+49 171 2345678",
        "mfa_enabled": False}
    assert data["consents"]["marketing_consent"] is True
    assert data["consents"]["marketing_consent_at"] is not None
    assert data["preferences"] == {"locale": "de_DE", "currency": "EUR"}
    assert data["addresses"] == [address]
    assert data["wishlists"] == [{k: wishlist[k] for k in ("id", "name", "created_at", "updated_at", "items")}]
    assert data["wishlists"][0]["items"][0]["note"] == "size 38"
    (device,) = data["sessions"]
    assert device["user_agent"] == BROWSER["user-agent"]
    assert device["ip"] == "127.0.0.1"
    assert device["revoked_at"] is None
    events = [e["event"] for e in data["audit_entries"]]
    assert events[:2] == ["customer.registered", "login.succeeded"]
    assert data["audit_entries"][1]["details"]["session_id"] == device["id"]
    assert data["orders"] == []
    # No secrets, not even hashed ones.
    assert "argon2" not in response.text
    assert "password_hash" not in response.text
    # The request itself is on the record, and shows up in the next export.
    (entry,) = await query(session, "SELECT actor_id, user_agent FROM audit_log WHERE event = 'privacy.export'"
                                    " AND subject_kind = 'customer' AND subject_id = :id", id=customer_id)
    assert (entry.actor_id, entry.user_agent) == (customer_id, BROWSER["user-agent"])
    again = (await client.get("/store/me/export", headers=auth)).json()
    assert [e["event"] for e in again["audit_entries"]][-1] == "privacy.export"


async def test_export_takes_a_pinned_number_of_queries(
    client: httpx.AsyncClient, assert_max_queries: Callable[[int], Any],
) -> None:
    auth, _ = await sign_up(client, "erika@example.com")
    await fill_account(client, auth)
    for _ in range(3):
        await client.post("/store/me/wishlists", headers=auth, json={"name": str(uuid.uuid4())})
    # session check, customer, addresses, wishlists, their items, sessions, audit entries, audit insert
    with assert_max_queries(8):
        assert (await client.get("/store/me/export", headers=auth)).status_code == 200


async def test_export_and_erasure_need_a_signed_in_customer(client: httpx.AsyncClient, staff_token: str) -> None:
    for headers in ({}, {"authorization": f"Bearer {staff_token}"}):
        assert (await client.get("/store/me/export", headers=headers)).status_code == 401
        erase = await client.request("DELETE", "/store/me", headers=headers, json={"password": PASSWORD})
        assert erase.status_code == 401
    auth, _ = await sign_up(client, "erika@example.com")
    missing = await client.request("DELETE", "/store/me", headers=auth)
    assert missing.status_code == 422
    assert (await client.get("/store/me", headers=auth)).status_code == 200


async def test_a_wrong_password_erases_nothing(client: httpx.AsyncClient, session: AsyncSession) -> None:
    auth, _ = await sign_up(client, "erika@example.com", first_name="Erika", marketing_consent=True)
    await fill_account(client, auth)
    before = (await client.get("/store/me/export", headers=auth)).json()
    refused = await client.request("DELETE", "/store/me", headers=auth, json={"password": "not my password"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.invalid_password"
    after = (await client.get("/store/me/export", headers=auth)).json()
    for part in ("profile", "consents", "preferences", "addresses", "wishlists"):
        assert after[part] == before[part]
    assert [s["revoked_at"] for s in after["sessions"]] == [None]
    assert await query(session, "SELECT 1 FROM outbox_events WHERE name = 'customer.erased'") == []
    assert await query(session, "SELECT 1 FROM audit_log WHERE event = 'privacy.erasure'") == []


async def test_guessing_the_password_through_erasure_is_throttled(
    client: httpx.AsyncClient, session: AsyncSession,
) -> None:
    auth, _ = await sign_up(client, "erika@example.com", first_name="Erika")
    statuses: list[int] = []
    refused = None
    for attempt in range(12):
        response = await client.request("DELETE", "/store/me", headers=auth, json={"password": f"guess {attempt}"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            refused = response
            break
        assert response.json()["code"] == "auth.invalid_password"
    assert refused is not None, statuses
    assert refused.json()["code"] in ("auth.throttled", "auth.locked")
    assert int(refused.headers["retry-after"]) >= 1
    # While throttled even the right password is refused, and the account is untouched.
    right = await client.request("DELETE", "/store/me", headers=auth, json={"password": PASSWORD})
    assert right.status_code == 429
    assert (await client.get("/store/me", headers=auth)).json()["first_name"] == "Erika"
    assert await query(session, "SELECT 1 FROM audit_log WHERE event = 'privacy.erasure'") == []


async def test_erasure_removes_or_pseudonymises_all_personal_data(
    client: httpx.AsyncClient, session: AsyncSession,
) -> None:
    auth, _ = await sign_up(client, "erika@example.com", first_name="Erika", last_name="Mustermann",
                            marketing_consent=True)
    _, wishlist = await fill_account(client, auth)
    assert (await login(client, "erika@example.com")).status_code == 200  # a second device
    customer_id = uuid.UUID((await client.get("/store/me", headers=auth)).json()["id"])
    # Two-factor authentication on, with recovery codes.
    customer = await session.scalar(select(Customer).where(Customer.id == customer_id))
    assert customer is not None
    secret, _ = mfa.begin_enrolment(customer)
    recovery_codes = await mfa.confirm_enrolment(session, "customer", customer, pyotp.TOTP(secret).now())
    await session.commit()
    # A pending password-reset link.
    assert (await client.post("/store/auth/password-reset", json={"email": "erika@example.com"})).status_code == 202

    # With two-factor authentication on, the password alone is not enough.
    no_code = await client.request("DELETE", "/store/me", headers=auth, json={"password": PASSWORD})
    assert (no_code.status_code, no_code.json()["code"]) == (401, "auth.mfa_required")
    wrong_code = await client.request("DELETE", "/store/me", headers=auth, json={"password": PASSWORD, "otp": "000000"})
    assert (wrong_code.status_code, wrong_code.json()["code"]) == (401, "auth.invalid_otp")
    assert (await client.get("/store/me", headers=auth)).json()["first_name"] == "Erika"

    erased = await client.request("DELETE", "/store/me", headers=auth,
                                  json={"password": PASSWORD, "otp": recovery_codes[0]})
    assert erased.status_code == 204, erased.text
    assert erased.content == b""

    (row,) = await query(session, "SELECT * FROM customers WHERE id = :id", id=customer_id)
    assert row.email == f"erased-{customer_id}@erased.invalid"
    assert (row.first_name, row.last_name, row.phone) == ("", "", None)
    assert row.password_hash == UNUSABLE_PASSWORD
    assert (row.mfa_totp_secret, row.mfa_pending_secret, row.mfa_enabled_at) == (None, None, None)
    assert (row.marketing_consent, row.marketing_consent_at) == (False, None)
    assert (row.locale, row.currency, row.email_verified_at) == (None, None, None)
    assert row.erased_at is not None
    assert row.is_active is False
    for table in ("customer_addresses", "wishlists"):
        assert await query(session, f"SELECT 1 FROM {table} WHERE customer_id = :id", id=customer_id) == []
    assert await query(session, "SELECT 1 FROM wishlist_items WHERE wishlist_id = :id",
                       id=uuid.UUID(wishlist["id"])) == []
    for table in ("mfa_recovery_codes", "one_time_tokens"):
        assert await query(session, f"SELECT 1 FROM {table} WHERE subject_id = :id", id=customer_id) == []
    devices = await query(session, "SELECT revoked_at, revoke_reason, ip, user_agent FROM auth_sessions"
                                   " WHERE subject_kind = 'customer' AND subject_id = :id", id=customer_id)
    assert len(devices) == 2
    assert all(d.revoked_at is not None and d.revoke_reason == "erased" for d in devices)
    assert all(d.ip is None and d.user_agent is None for d in devices)
    (event,) = await query(session, "SELECT payload FROM outbox_events WHERE name = 'customer.erased'")
    assert event.payload == {"customer_id": str(customer_id)}
    audited = await query(session, "SELECT event, actor_id FROM audit_log WHERE subject_id = :id ORDER BY occurred_at",
                          id=str(customer_id))
    assert audited[-1] == ("privacy.erasure", str(customer_id))
    # The security log is kept (legitimate interest, 365 days): the sign-ins are still on it.
    assert [a.event for a in audited].count("login.succeeded") == 2


async def test_after_erasure_tokens_are_dead_and_the_email_is_free(
    client: httpx.AsyncClient, session: AsyncSession,
) -> None:
    auth, tokens = await sign_up(client, "erika@example.com", first_name="Erika")
    await fill_account(client, auth)
    old_id = (await client.get("/store/me", headers=auth)).json()["id"]
    assert (await client.request("DELETE", "/store/me", headers=auth, json={"password": PASSWORD})).status_code == 204

    for method, url in (("GET", "/store/me"), ("GET", "/store/me/export"), ("GET", "/store/me/addresses")):
        dead = await client.request(method, url, headers=auth)
        assert dead.status_code == 401
        assert dead.json()["code"] == "auth.session_revoked"
    refreshed = await client.post("/store/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    # The old credentials fail exactly like an email nobody registered.
    old = await login(client, "erika@example.com")
    unknown = await login(client, "nobody-here@example.com")
    assert old.status_code == unknown.status_code == 401
    assert without_request_id(old) == without_request_id(unknown)
    # Password reset for the old address: the usual answer, and no mail is queued for the erased account.
    reset = await client.post("/store/auth/password-reset", json={"email": "erika@example.com"})
    assert reset.status_code == 202
    assert await query(session, "SELECT 1 FROM outbox_events WHERE name = 'customer.password_reset_requested'"
                                " AND payload->>'customer_id' = :id", id=old_id) == []

    # The address can open a brand-new, empty account.
    new_auth, _ = await sign_up(client, "erika@example.com")
    profile = (await client.get("/store/me", headers=new_auth)).json()
    assert profile["id"] != old_id
    assert (profile["email"], profile["first_name"], profile["marketing_consent"]) == ("erika@example.com", "", False)
    assert (await client.get("/store/me/addresses", headers=new_auth)).json()["items"] == []
    assert (await client.get("/store/me/wishlists", headers=new_auth)).json()["items"] == []
    export = (await client.get("/store/me/export", headers=new_auth)).json()
    assert {e["event"] for e in export["audit_entries"]} == {"customer.registered", "login.succeeded"}
    assert len(export["sessions"]) == 1


async def test_an_erased_account_cannot_be_erased_or_exported_with_a_fresh_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    auth, _ = await sign_up(client, "erika@example.com")
    customer_id = (await client.get("/store/me", headers=auth)).json()["id"]
    assert (await client.request("DELETE", "/store/me", headers=auth, json={"password": PASSWORD})).status_code == 204
    # Even a token of a live session (say, one that raced the erasure) finds no account to act on.
    (live,) = await query(session, "INSERT INTO auth_sessions (id, subject_kind, subject_id, created_at, last_seen_at,"
                                   " idle_expires_at, absolute_expires_at) VALUES (gen_random_uuid(), 'customer', :id,"
                                   " now(), now(), now() + interval '1 hour', now() + interval '1 hour') RETURNING id",
                          id=uuid.UUID(customer_id))
    assert settings.secret_key
    token = issue_access_token(settings.secret_key, subject=customer_id, kind="customer", permissions=[],
                               ttl=timedelta(minutes=5), session_id=str(live.id))
    headers = {"authorization": f"Bearer {token}"}
    for method, url, body in (("GET", "/store/me/export", None), ("DELETE", "/store/me", {"password": PASSWORD}),
                              ("POST", "/store/me/addresses", BERLIN), ("POST", "/store/me/wishlists", {"name": "x"})):
        response = await client.request(method, url, headers=headers, json=body)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["code"] == "customer.not_found"
