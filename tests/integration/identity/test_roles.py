"""/admin/roles and /admin/permissions."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.identity import seed_builtin_roles
from mercato.modules.identity.models import AuditEntry, Role, StaffRole, StaffUser
from mercato.modules.identity.passwords import hash_password
from mercato.modules.identity.permissions import BUILTIN_ROLES, PERMISSIONS
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def roles_seeded(session: AsyncSession) -> None:
    await seed_builtin_roles(session)
    await session.commit()


async def holder(session: AsyncSession, client: httpx.AsyncClient, email: str, *role_ids: uuid.UUID,
                 permissions: tuple[str, ...] = ()) -> str:
    """A staff user holding the roles, signed in; returns the access token."""
    user = StaffUser(id=uuid.uuid4(), email=email, password_hash=hash_password(PASSWORD), permissions=list(permissions))
    session.add(user)
    await session.flush()
    session.add_all(StaffRole(staff_id=user.id, role_id=role_id) for role_id in role_ids)
    await session.commit()
    response = await client.post("/admin/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def role_named(session: AsyncSession, name: str) -> Role:
    role = await session.scalar(select(Role).where(Role.name == name))
    assert role is not None
    return role


async def create(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post("/admin/roles", headers=bearer(token), json=body)


async def test_builtin_roles_are_listed_in_name_order(
    client: httpx.AsyncClient, staff_token: str, roles_seeded: None
) -> None:
    names: list[str] = []
    cursor = None
    while True:
        params = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/admin/roles", params=params, headers=bearer(staff_token))).json()
        names += [item["name"] for item in page["items"]]
        for item in page["items"]:
            assert item["is_builtin"] is True
            assert item["permissions"] == sorted(BUILTIN_ROLES[item["name"]][1])
        if (cursor := page["next_cursor"]) is None:
            break
    assert names == sorted(BUILTIN_ROLES)


async def test_create_rename_and_delete_a_custom_role(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, roles_seeded: None
) -> None:
    created = await create(client, staff_token, name="returns_clerk", description="Handles returns",
                           permissions=["orders:write", "orders:read", "orders:read"])
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["permissions"] == ["orders:read", "orders:write"]
    assert role["is_builtin"] is False
    assert created.headers["location"] == f"/admin/roles/{role['id']}"

    duplicate = await create(client, staff_token, name="returns_clerk")
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "role.name_taken"

    renamed = await client.patch(f"/admin/roles/{role['id']}", headers=bearer(staff_token),
                                 json={"name": "returns_desk", "description": "Returns desk"})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["description"]) == ("returns_desk", "Returns desk")
    taken = await client.patch(f"/admin/roles/{role['id']}", headers=bearer(staff_token), json={"name": "support"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "role.name_taken"

    deleted = await client.delete(f"/admin/roles/{role['id']}", headers=bearer(staff_token))
    assert deleted.status_code == 204
    assert (await client.get(f"/admin/roles/{role['id']}", headers=bearer(staff_token))).status_code == 404
    events = list((await session.execute(
        select(AuditEntry.event).where(AuditEntry.subject_kind == "role", AuditEntry.subject_id == role["id"])
        .order_by(AuditEntry.occurred_at, AuditEntry.event)
    )).scalars())
    assert sorted(events) == ["role.created", "role.deleted", "role.updated"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "Returns Clerk"}, "role.invalid_name"),
        ({"name": "x" * 65}, "validation.invalid"),
        ({"name": "9lives"}, "role.invalid_name"),
        ({"name": "ok_name", "permissions": ["orders:teleport"]}, "identity.unknown_permission"),
        ({"name": "ok_name", "extra": 1}, "validation.invalid"),
    ],
)
async def test_create_refuses_bad_input(client: httpx.AsyncClient, staff_token: str, body: dict[str, Any],
                                        code: str) -> None:
    response = await create(client, staff_token, **body)
    assert response.status_code == 422
    assert response.json()["code"] == code


async def test_builtin_roles_keep_their_names_and_cannot_be_deleted(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, roles_seeded: None
) -> None:
    support = await role_named(session, "support")
    rename = await client.patch(f"/admin/roles/{support.id}", headers=bearer(staff_token), json={"name": "helpdesk"})
    assert rename.status_code == 409
    assert rename.json()["code"] == "role.builtin"
    delete = await client.delete(f"/admin/roles/{support.id}", headers=bearer(staff_token))
    assert delete.status_code == 409
    assert delete.json()["code"] == "role.builtin"
    # Its permissions may be tuned, though.
    tuned = await client.patch(f"/admin/roles/{support.id}", headers=bearer(staff_token),
                               json={"permissions": ["orders:read", "customers:read"]})
    assert tuned.status_code == 200
    assert tuned.json()["name"] == "support"
    assert tuned.json()["permissions"] == ["customers:read", "orders:read"]


async def test_changing_a_roles_permissions_signs_out_every_holder(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, roles_seeded: None
) -> None:
    role = (await create(client, staff_token, name="returns_clerk", permissions=["orders:read"])).json()
    role_id = uuid.UUID(role["id"])
    first = await holder(session, client, "a@example.com", role_id)
    second = await holder(session, client, "b@example.com", role_id, (await role_named(session, "support")).id)
    bystander = await holder(session, client, "c@example.com", (await role_named(session, "support")).id)

    # A description change alone signs nobody out.
    await client.patch(f"/admin/roles/{role_id}", headers=bearer(staff_token), json={"description": "Returns"})
    assert (await client.get("/admin/me", headers=bearer(first))).status_code == 200

    changed = await client.patch(f"/admin/roles/{role_id}", headers=bearer(staff_token),
                                 json={"permissions": ["orders:read", "orders:write"]})
    assert changed.status_code == 200
    for token in (first, second):
        response = await client.get("/admin/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["code"] == "auth.session_revoked"
    assert (await client.get("/admin/me", headers=bearer(bystander))).status_code == 200
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.event == "role.updated",
                                                          AuditEntry.subject_id == role["id"])
                                 .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(1))
    assert entry is not None
    assert entry.details == {
        "changes": {"permissions": {"from": ["orders:read"], "to": ["orders:read", "orders:write"]}},
        "holders_signed_out": 2,
    }


async def test_deleting_a_role_signs_out_its_holders_and_drops_the_memberships(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    role = (await create(client, staff_token, name="temp_role", permissions=["audit:read"])).json()
    token = await holder(session, client, "a@example.com", uuid.UUID(role["id"]))
    assert (await client.get("/admin/audit-log", headers=bearer(token))).status_code == 200
    assert (await client.delete(f"/admin/roles/{role['id']}", headers=bearer(staff_token))).status_code == 204
    assert (await client.get("/admin/audit-log", headers=bearer(token))).status_code == 401
    remaining = await session.scalar(select(func.count()).select_from(StaffRole)
                                     .where(StaffRole.role_id == uuid.UUID(role["id"])))
    assert remaining == 0


async def test_roles_cannot_grant_or_touch_more_than_the_manager_holds(
    client: httpx.AsyncClient, session: AsyncSession, roles_seeded: None, settings: Settings
) -> None:
    manager = staff_token_for(settings, ["staff:manage", "catalog:read", "catalog:write"])
    refused = await create(client, manager, name="big", permissions=["catalog:read", "orders:refund"])
    assert refused.status_code == 403
    assert refused.json()["code"] == "role.permission_escalation"
    everything = await create(client, manager, name="everything", permissions=["*"])
    assert everything.status_code == 403
    mine = await create(client, manager, name="small", permissions=["catalog:read"])
    assert mine.status_code == 201
    grow = await client.patch(f"/admin/roles/{mine.json()['id']}", headers=bearer(manager),
                              json={"permissions": ["catalog:read", "audit:read"]})
    assert grow.status_code == 403
    owner = await role_named(session, "owner")
    for response in (
        await client.patch(f"/admin/roles/{owner.id}", headers=bearer(manager), json={"permissions": []}),
        await client.patch(f"/admin/roles/{owner.id}", headers=bearer(manager), json={"description": "mine now"}),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "role.permission_escalation"
    session.expire_all()
    assert (await role_named(session, "owner")).permissions == ["*"]


async def test_stale_etag_is_refused(client: httpx.AsyncClient, staff_token: str) -> None:
    created = await create(client, staff_token, name="etag_role")
    role_id, etag = created.json()["id"], created.headers["etag"]
    fresh = await client.patch(f"/admin/roles/{role_id}", headers={**bearer(staff_token), "if-match": etag},
                               json={"description": "first"})
    assert fresh.status_code == 200
    stale = await client.patch(f"/admin/roles/{role_id}", headers={**bearer(staff_token), "if-match": etag},
                               json={"description": "second"})
    assert stale.status_code == 412
    fetched = await client.get(f"/admin/roles/{role_id}", headers=bearer(staff_token))
    assert fetched.json()["description"] == "first"
    assert fetched.headers["etag"] == fresh.headers["etag"]


async def test_permission_catalogue(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/admin/permissions", headers=bearer(staff_token_for(settings, ["staff:manage"])))
    assert response.status_code == 200
    items = {item["name"]: item["description"] for item in response.json()["items"]}
    assert set(items) == {"*", *PERMISSIONS}
    assert items["audit:read"] == PERMISSIONS["audit:read"]
    denied = await client.get("/admin/permissions", headers=bearer(staff_token_for(settings, ["audit:read"])))
    assert denied.status_code == 403
