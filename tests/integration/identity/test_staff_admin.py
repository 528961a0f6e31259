"""/admin/staff: managing staff users, escalation rules, and sign-out when permissions change."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.identity import seed_builtin_roles
from mercato.modules.identity.models import AuditEntry, Role, StaffRole, StaffUser
from mercato.modules.identity.passwords import hash_password
from mercato.modules.identity.permissions import BUILTIN_ROLES
from tests.fixtures.http import bearer

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "an entirely new passphrase"


async def make_staff(session: AsyncSession, email: str, *, roles: Sequence[str] = (),
                     permissions: Sequence[str] = ()) -> StaffUser:
    user = StaffUser(id=uuid.uuid4(), email=email, password_hash=hash_password(PASSWORD),
                     permissions=list(permissions))
    session.add(user)
    await session.flush()
    for name in roles:
        role = await session.scalar(select(Role).where(Role.name == name))
        assert role is not None, name
        session.add(StaffRole(staff_id=user.id, role_id=role.id))
    await session.commit()
    return user


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/admin/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
async def roles_seeded(session: AsyncSession) -> None:
    await seed_builtin_roles(session)
    await session.commit()


@pytest.fixture
async def owner_token(client: httpx.AsyncClient, superuser: tuple[str, str], roles_seeded: None) -> str:
    return str((await sign_in(client, superuser[0]))["access_token"])


async def audit_of(session: AsyncSession, event: str, subject_id: str) -> list[AuditEntry]:
    rows = await session.execute(select(AuditEntry).where(AuditEntry.event == event,
                                                          AuditEntry.subject_id == subject_id))
    return list(rows.scalars())


async def test_create_get_list_and_sign_in(
    client: httpx.AsyncClient, session: AsyncSession, owner_token: str, superuser: tuple[str, str]
) -> None:
    created = await client.post("/admin/staff", headers=bearer(owner_token), json={
        "email": "Clerk@Example.com", "password": NEW_PASSWORD, "first_name": "Cora", "last_name": "Clerk",
        "roles": ["support"], "permissions": ["audit:read"],
    })
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "clerk@example.com"
    assert [r["name"] for r in body["roles"]] == ["support"]
    assert body["permissions"] == ["audit:read"]
    assert body["effective_permissions"] == sorted(BUILTIN_ROLES["support"][1] | {"audit:read"})
    assert body["is_active"] is True
    assert body["is_superuser"] is False
    assert body["mfa_enabled"] is False
    assert created.headers["location"] == f"/admin/staff/{body['id']}"
    assert "password" not in created.text

    fetched = await client.get(f"/admin/staff/{body['id']}", headers=bearer(owner_token))
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["etag"] == created.headers["etag"]

    listed = await client.get("/admin/staff", params={"q": "cora"}, headers=bearer(owner_token))
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    everyone = await client.get("/admin/staff", headers=bearer(owner_token))
    assert {item["email"] for item in everyone.json()["items"]} == {"clerk@example.com", superuser[0]}

    # The new user signs in and holds exactly the effective permissions.
    token = (await sign_in(client, "clerk@example.com", NEW_PASSWORD))["access_token"]
    me = await client.get("/admin/me", headers=bearer(token))
    assert me.json()["permissions"] == body["effective_permissions"]
    assert (await client.get("/admin/audit-log", headers=bearer(token))).status_code == 200
    assert (await client.get("/admin/staff", headers=bearer(token))).status_code == 403

    [entry] = await audit_of(session, "staff.created", body["id"])
    assert entry.details == {"email": "clerk@example.com", "roles": ["support"], "permissions": ["audit:read"]}
    owner = await session.scalar(select(StaffUser).where(StaffUser.email == superuser[0]))
    assert owner is not None
    assert (entry.actor_kind, entry.actor_id) == ("staff", str(owner.id))


async def test_roles_can_be_named_by_id(client: httpx.AsyncClient, session: AsyncSession, owner_token: str) -> None:
    warehouse = await session.scalar(select(Role).where(Role.name == "warehouse"))
    assert warehouse is not None
    created = await client.post("/admin/staff", headers=bearer(owner_token), json={
        "email": "picker@example.com", "password": NEW_PASSWORD, "roles": [str(warehouse.id), "warehouse"]})
    assert created.status_code == 201
    assert created.json()["roles"] == [{"id": str(warehouse.id), "name": "warehouse"}]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"email": "owner@example.com"}, 409, "identity.email_taken", None),
        ({"email": "not-an-email"}, 422, "validation.invalid", "email"),
        ({"password": "password1"}, 422, "identity.weak_password", "password"),
        ({"roles": ["support", "no_such_role"]}, 422, "staff.unknown_role", "roles.1"),
        ({"roles": [str(uuid.uuid4())]}, 422, "staff.unknown_role", "roles.0"),
        ({"permissions": ["orders:read", "orders:fly"]}, 422, "identity.unknown_permission", "permissions"),
        ({"permissions": ["self:mfa_enrolment"]}, 422, "identity.unknown_permission", "permissions"),
        ({"is_superuser": True}, 422, "validation.invalid", "is_superuser"),
    ],
)
async def test_create_refuses_bad_input(
    client: httpx.AsyncClient, owner_token: str, change: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    body = {"email": "new@example.com", "password": NEW_PASSWORD, **change}
    response = await client.post("/admin/staff", headers=bearer(owner_token), json=body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]


async def test_nobody_grants_what_they_do_not_hold(
    client: httpx.AsyncClient, session: AsyncSession, roles_seeded: None, superuser: tuple[str, str]
) -> None:
    await make_staff(session, "manager@example.com", roles=["catalog_editor"], permissions=["staff:manage"])
    support = await make_staff(session, "support@example.com", roles=["support"])
    token = (await sign_in(client, "manager@example.com"))["access_token"]

    def new(**extra: Any) -> dict[str, Any]:
        return {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": NEW_PASSWORD, **extra}

    for body in (new(roles=["support"]), new(permissions=["orders:refund"]), new(permissions=["*"]),
                 new(roles=["owner"]), new(roles=["catalog_editor"], permissions=["catalog:publish"])):
        refused = await client.post("/admin/staff", headers=bearer(token), json=body)
        assert refused.status_code == 403, body
        assert refused.json()["code"] == "staff.permission_escalation"
    # Within what the manager holds: fine, including staff:manage itself.
    allowed = await client.post("/admin/staff", headers=bearer(token),
                                json=new(roles=["catalog_editor"], permissions=["staff:manage"]))
    assert allowed.status_code == 201
    helper_id = allowed.json()["id"]
    escalate = await client.patch(f"/admin/staff/{helper_id}", headers=bearer(token),
                                  json={"permissions": ["staff:manage", "audit:read"]})
    assert escalate.status_code == 403
    assert escalate.json()["code"] == "staff.permission_escalation"

    # Staff holding more than the manager are out of reach, even for a harmless change.
    owner = await session.scalar(select(StaffUser).where(StaffUser.email == superuser[0]))
    assert owner is not None
    for target, change in ((owner.id, {"is_active": False}), (support.id, {"first_name": "Sam"}),
                           (support.id, {"roles": []})):
        refused = await client.patch(f"/admin/staff/{target}", headers=bearer(token), json=change)
        assert refused.status_code == 403
        assert refused.json()["code"] == "staff.outranked"

    me = await client.get("/admin/me", headers=bearer(token))
    itself = await client.patch(f"/admin/staff/{me.json()['id']}", headers=bearer(token), json={"is_active": False})
    assert itself.status_code == 409
    assert itself.json()["code"] == "staff.cannot_deactivate_self"


async def test_deactivating_signs_the_user_out_at_once(
    client: httpx.AsyncClient, session: AsyncSession, owner_token: str
) -> None:
    clerk = await make_staff(session, "clerk@example.com", roles=["support"])
    pair = await sign_in(client, "clerk@example.com")
    assert (await client.get("/admin/me", headers=bearer(pair["access_token"]))).status_code == 200

    response = await client.patch(f"/admin/staff/{clerk.id}", headers=bearer(owner_token), json={"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False

    revoked = await client.get("/admin/me", headers=bearer(pair["access_token"]))
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "auth.session_revoked"
    refresh = await client.post("/admin/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    login = await client.post("/admin/auth/login", json={"email": "clerk@example.com", "password": PASSWORD})
    assert login.status_code == 401
    [entry] = await audit_of(session, "staff.updated", str(clerk.id))
    assert entry.details == {"changes": {"is_active": {"from": True, "to": False}}}

    # Back on: signing in works again.
    await client.patch(f"/admin/staff/{clerk.id}", headers=bearer(owner_token), json={"is_active": True})
    assert (await client.post("/admin/auth/login",
                              json={"email": "clerk@example.com", "password": PASSWORD})).status_code == 200


async def test_changing_permissions_applies_at_once(
    client: httpx.AsyncClient, session: AsyncSession, owner_token: str
) -> None:
    clerk = await make_staff(session, "clerk@example.com", roles=["support"])
    old = (await sign_in(client, "clerk@example.com"))["access_token"]
    assert (await client.get("/admin/audit-log", headers=bearer(old))).status_code == 403

    granted = await client.patch(f"/admin/staff/{clerk.id}", headers=bearer(owner_token),
                                 json={"roles": ["warehouse"], "permissions": ["audit:read"]})
    assert granted.status_code == 200
    assert [r["name"] for r in granted.json()["roles"]] == ["warehouse"]
    assert "inventory:write" in granted.json()["effective_permissions"]
    # The old token carried the old permissions: it is dead, not merely outdated.
    assert (await client.get("/admin/audit-log", headers=bearer(old))).status_code == 401
    new = (await sign_in(client, "clerk@example.com"))["access_token"]
    assert (await client.get("/admin/audit-log", headers=bearer(new))).status_code == 200
    assert "customers:read" not in (await client.get("/admin/me", headers=bearer(new))).json()["permissions"]

    [entry] = await audit_of(session, "staff.roles_changed", str(clerk.id))
    assert entry.details["roles"] == {"from": ["support"], "to": ["warehouse"]}
    assert entry.details["permissions"] == {"from": [], "to": ["audit:read"]}


async def test_a_name_change_keeps_sessions_and_etags_guard_updates(
    client: httpx.AsyncClient, session: AsyncSession, owner_token: str
) -> None:
    clerk = await make_staff(session, "clerk@example.com", roles=["support"])
    token = (await sign_in(client, "clerk@example.com"))["access_token"]
    fetched = await client.get(f"/admin/staff/{clerk.id}", headers=bearer(owner_token))
    etag = fetched.headers["etag"]

    renamed = await client.patch(f"/admin/staff/{clerk.id}", headers={**bearer(owner_token), "if-match": etag},
                                 json={"first_name": "Cora", "last_name": "Clerk"})
    assert renamed.status_code == 200
    assert (renamed.json()["first_name"], renamed.json()["last_name"]) == ("Cora", "Clerk")
    assert renamed.headers["etag"] != etag
    assert (await client.get("/admin/me", headers=bearer(token))).status_code == 200  # still signed in

    stale = await client.patch(f"/admin/staff/{clerk.id}", headers={**bearer(owner_token), "if-match": etag},
                               json={"is_active": False})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition.stale"
    assert (await client.get(f"/admin/staff/{clerk.id}", headers=bearer(owner_token))).json()["is_active"] is True
    # An empty change changes nothing and records nothing.
    same = await client.patch(f"/admin/staff/{clerk.id}", headers=bearer(owner_token), json={})
    assert same.status_code == 200
    assert same.headers["etag"] == renamed.headers["etag"]
    assert len(await audit_of(session, "staff.updated", str(clerk.id))) == 1


@pytest.mark.parametrize("staff_id", ["not-a-uuid", str(uuid.uuid4())])
async def test_unknown_staff_is_404(client: httpx.AsyncClient, staff_token: str, staff_id: str) -> None:
    for response in (await client.get(f"/admin/staff/{staff_id}", headers=bearer(staff_token)),
                     await client.patch(f"/admin/staff/{staff_id}", headers=bearer(staff_token), json={})):
        assert response.status_code == 404
        assert response.json()["code"] == "staff.not_found"


async def test_list_is_keyset_paginated_with_a_fixed_query_count(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, roles_seeded: None,
    assert_max_queries: Callable[[int], AbstractContextManager[object]],
) -> None:
    for i in range(5):
        await make_staff(session, f"user{i}@example.com", roles=["support", "warehouse"])
    await client.get("/admin/staff", headers=bearer(staff_token))  # warms the session cache
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        with assert_max_queries(2):  # the page and its roles, however many users and roles
            page = (await client.get("/admin/staff", params=params, headers=bearer(staff_token))).json()
        assert len(page["items"]) <= 2
        assert all([r["name"] for r in item["roles"]] == ["support", "warehouse"] for item in page["items"])
        seen += [item["email"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"user{i}@example.com" for i in range(5)]
    bad = await client.get("/admin/staff", params={"cursor": "garbage"}, headers=bearer(staff_token))
    assert bad.status_code == 422
    assert bad.json()["code"] == "pagination.invalid_cursor"
    inactive = await client.get("/admin/staff", params={"is_active": "false"}, headers=bearer(staff_token))
    assert inactive.json()["items"] == []
