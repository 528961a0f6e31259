"""Values PostgreSQL cannot take, found by the API fuzz test (tests/e2e/test_fuzz_openapi.py): each
is a 422 naming the field, and the request changes nothing, where each used to be a 500."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.identity.models import AuditEntry, LoginThrottle, Wishlist
from tests.fixtures.auth import staff_token_for

PASSWORD = "a long enough passphrase"


def fields_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation.invalid"
    return {error["field"]: error["code"] for error in response.json()["errors"]}


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_sign_in_with_a_nul_in_the_email_counts_no_attempt(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for path in ("/store/auth/login", "/admin/auth/login"):
        response = await client.post(path, json={"email": "a\x00@example.com", "password": PASSWORD})
        assert fields_of(response) == {"email": "nul_character"}
    assert await count(session, LoginThrottle) == 0, "refused before the attempt was counted"
    assert await count(session, AuditEntry) == 0


async def test_customer_writes_with_a_nul_are_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    email = "nul@example.com"
    assert (await client.post("/store/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
    login = await client.post("/store/auth/login", json={"email": email, "password": PASSWORD})
    auth = {"authorization": f"Bearer {login.json()['access_token']}"}

    assert fields_of(await client.patch("/store/me", headers=auth, json={"phone": "\x00"})) == {
        "phone": "nul_character"}
    assert fields_of(await client.post("/store/me/wishlists", headers=auth, json={"name": "\x00"})) == {
        "name": "nul_character"}
    assert await count(session, Wishlist) == 0
    assert (await client.get("/store/me", headers=auth)).json()["phone"] is None


async def test_staff_searches_with_a_nul_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    auth = {"authorization": f"Bearer {staff_token_for(settings, ['*'])}"}
    assert fields_of(await client.get("/admin/staff", headers=auth, params={"q": "a\x00"})) == {
        "query.q": "nul_character"}
    assert fields_of(await client.get("/admin/audit-log", headers=auth, params={"subject_kind": "\x00"})) == {
        "query.subject_kind": "nul_character"}
    assert (await client.get("/admin/roles/a%00b", headers=auth)).status_code == 404


async def test_times_out_of_range_in_utc_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    """9999-12-31T23:59:59-05:00 is a valid RFC 3339 time, but in UTC it is in the year 10000."""
    auth = {"authorization": f"Bearer {staff_token_for(settings, ['*'])}"}
    late, early = "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"
    response = await client.get("/admin/audit-log", headers=auth, params={"since": late, "until": early})
    assert fields_of(response) == {"query.since": "datetime_out_of_range", "query.until": "datetime_out_of_range"}
    body = {"name": "feed", "permissions": ["catalog:read"], "expires_at": late}
    assert fields_of(await client.post("/admin/api-keys", headers=auth, json=body)) == {
        "expires_at": "datetime_out_of_range"}
    in_range = await client.get("/admin/audit-log", headers=auth, params={"since": "2020-01-01T00:00:00+05:00"})
    assert in_range.status_code == 200, in_range.text
