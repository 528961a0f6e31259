"""/admin/api-keys: integration keys, shown once, stored as digests, limited to their permissions."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.settings import Settings
from mercato.modules.identity.models import ApiKey, AuditEntry, StaffUser
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer
from tests.fixtures.test_session import TEST_STAFF_ID


@pytest.fixture(autouse=True)
async def token_staff_user(session: AsyncSession) -> None:
    """The staff row behind staff_token_for's tokens (keys record who made them)."""
    session.add(StaffUser(id=TEST_STAFF_ID, email="tokens@example.com", password_hash="!unusable"))
    await session.commit()


async def create_key(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post("/admin/api-keys", headers=bearer(token),
                             json={"name": "ERP sync", "permissions": ["audit:read"], **body})


async def test_the_key_is_shown_once_and_only_its_digest_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    created = await create_key(client, staff_token, permissions=["audit:read", "orders:read"])
    assert created.status_code == 201, created.text
    body = created.json()
    raw = body["key"]
    assert raw.startswith(body["prefix"] + "_")
    assert body["prefix"].startswith("mk_")
    assert len(body["prefix"]) == len("mk_") + 8
    assert body["permissions"] == ["audit:read", "orders:read"]
    assert body["created_by"] == str(TEST_STAFF_ID)
    assert body["last_used_at"] is None
    assert body["revoked_at"] is None
    assert created.headers["location"] == f"/admin/api-keys/{body['id']}"

    secret = raw[len(body["prefix"]) + 1:]  # the secret itself may contain "_"
    row = (await session.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": body["id"]})).mappings().one()
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in row.values())
    assert not any(raw in str(value) for value in row.values())

    listed = await client.get("/admin/api-keys", headers=bearer(staff_token))
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert set(item) == {"id", "name", "prefix", "permissions", "created_by", "created_at", "last_used_at",
                         "expires_at", "revoked_at"}
    assert secret not in listed.text
    assert (await session.scalar(select(AuditEntry).where(AuditEntry.event == "api_key.created",
                                                          AuditEntry.subject_id == body["id"]))) is not None


async def test_a_key_authenticates_within_its_permissions_only(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    body = (await create_key(client, staff_token)).json()
    key = body["key"]
    allowed = await client.get("/admin/audit-log", headers=bearer(key))
    assert allowed.status_code == 200
    beyond = await client.get("/admin/staff", headers=bearer(key))
    assert beyond.status_code == 403
    assert beyond.json()["code"] == "auth.forbidden"
    # A key is not a staff user: the staff-only routes are closed to it.
    assert (await client.get("/admin/me", headers=bearer(key))).status_code == 403
    assert (await client.post("/admin/me/mfa/totp", headers=bearer(key))).status_code == 403

    row = await session.get(ApiKey, uuid.UUID(body["id"]))
    assert row is not None
    await session.refresh(row)
    assert row.last_used_at is not None
    assert utcnow() - row.last_used_at < timedelta(minutes=1)
    listed = (await client.get("/admin/api-keys", headers=bearer(staff_token))).json()["items"]
    assert listed[0]["last_used_at"] is not None


async def test_a_key_holds_a_subset_of_its_creators_permissions(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    creator = staff_token_for(settings, ["staff:manage", "catalog:read"])
    for permissions in (["orders:read"], ["catalog:read", "orders:refund"], ["*"]):
        refused = await create_key(client, creator, permissions=permissions)
        assert refused.status_code == 403, permissions
        assert refused.json()["code"] == "api_key.permission_escalation"
    assert (await create_key(client, creator, permissions=["catalog:read"])).status_code == 201
    # A key can even pass on staff:manage, but a key it makes is bounded by the key's own permissions.
    manager = (await create_key(client, creator, permissions=["staff:manage", "catalog:read"])).json()["key"]
    assert (await create_key(client, manager, permissions=["catalog:read"])).status_code == 201
    assert (await create_key(client, manager, permissions=["audit:read"])).status_code == 403


async def test_a_revoked_key_stops_at_once(client: httpx.AsyncClient, session: AsyncSession, staff_token: str) -> None:
    body = (await create_key(client, staff_token)).json()
    assert (await client.get("/admin/audit-log", headers=bearer(body["key"]))).status_code == 200  # now cached
    revoked = await client.delete(f"/admin/api-keys/{body['id']}", headers=bearer(staff_token))
    assert revoked.status_code == 204
    refused = await client.get("/admin/audit-log", headers=bearer(body["key"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.invalid_api_key"
    again = await client.delete(f"/admin/api-keys/{body['id']}", headers=bearer(staff_token))
    assert again.status_code == 204
    [item] = (await client.get("/admin/api-keys", headers=bearer(staff_token))).json()["items"]
    assert item["revoked_at"] is not None
    assert (await client.get("/admin/api-keys", params={"include_revoked": "false"},
                             headers=bearer(staff_token))).json()["items"] == []
    entries = (await session.execute(select(AuditEntry).where(AuditEntry.event == "api_key.revoked",
                                                              AuditEntry.subject_id == body["id"]))).scalars()
    assert len(list(entries)) == 1


async def test_an_expired_key_is_refused(client: httpx.AsyncClient, session: AsyncSession, staff_token: str) -> None:
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    body = (await create_key(client, staff_token, expires_at=soon)).json()
    assert body["expires_at"] is not None
    await session.execute(update(ApiKey).where(ApiKey.id == uuid.UUID(body["id"]))
                          .values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    response = await client.get("/admin/audit-log", headers=bearer(body["key"]))
    assert response.status_code == 401
    assert response.json()["code"] == "auth.api_key_expired"


async def test_bad_keys_and_bad_input(client: httpx.AsyncClient, staff_token: str) -> None:
    body = (await create_key(client, staff_token)).json()
    secret = body["key"][len(body["prefix"]) + 1:]
    for forged in ("mk_nothing", body["prefix"] + "_wrongsecret", "mk_00000000_" + secret):
        response = await client.get("/admin/audit-log", headers=bearer(forged))
        assert response.status_code == 401, forged
    past = await create_key(client, staff_token, expires_at=(utcnow() - timedelta(minutes=1)).isoformat())
    assert past.status_code == 422
    naive = await create_key(client, staff_token, expires_at="2099-01-01T00:00:00")
    assert naive.status_code == 422
    assert (await create_key(client, staff_token, permissions=[])).status_code == 422
    unknown = await create_key(client, staff_token, permissions=["orders:fly"])
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "identity.unknown_permission"
    missing = await client.delete(f"/admin/api-keys/{uuid.uuid4()}", headers=bearer(staff_token))
    assert missing.status_code == 404
    assert missing.json()["code"] == "api_key.not_found"
    assert (await client.delete("/admin/api-keys/nope", headers=bearer(staff_token))).status_code == 404


async def test_the_list_is_keyset_paginated(client: httpx.AsyncClient, staff_token: str) -> None:
    made = [(await create_key(client, staff_token, name=f"key {i}")).json()["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/admin/api-keys", params=params, headers=bearer(staff_token))).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == list(reversed(made))  # newest first


async def test_a_token_of_a_missing_staff_user_makes_no_key(client: httpx.AsyncClient, settings: Settings) -> None:
    ghost = staff_token_for(settings, ["*"], subject=uuid.uuid4())
    response = await create_key(client, ghost)
    assert response.status_code == 401
    assert response.json()["code"] == "auth.account_disabled"
