"""Staff roles: named sets of permissions. Built-in roles keep their names and cannot be deleted.

Changing what a role grants signs its holders out (their access tokens carry the old permissions),
so the change applies at once instead of when their tokens expire.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.identity import audit, sessions
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import (
    BuiltinRoleProtected,
    RoleNameInvalid,
    RoleNameTaken,
    RoleNotFound,
    RolePermissionEscalation,
    UnknownRole,
)
from mercato.modules.identity.models import Role, StaffRole
from mercato.modules.identity.permissions import not_held, validated

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
STAFF_KIND = "staff"


def _check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise RoleNameInvalid(
            "A role name is 2-64 characters: lower-case letters, digits and underscores, starting with a letter.",
            errors=[FieldError("name", "invalid", "Use e.g. 'returns_clerk'.")],
        )
    return name


async def get(session: AsyncSession, role_id: str | uuid.UUID, *, lock: bool = False) -> Role:
    parsed = role_id if isinstance(role_id, uuid.UUID) else parse_id(role_id)
    role = None if parsed is None else await session.get(Role, parsed, with_for_update=lock)
    if role is None:
        raise RoleNotFound("No such role.")
    return role


async def list_roles(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Role]:
    stmt: Select[Any] = select(Role)
    return await keyset_page(session, stmt, [SortKey(Role.name), SortKey(Role.id)], limit=limit, cursor=cursor)


async def resolve(session: AsyncSession, refs: Sequence[str], *, field: str = "roles") -> list[Role]:
    """Roles named by id or by name, in the order given (duplicates dropped); unknown ones are a 422."""
    ids = {ref: parsed for ref in refs if (parsed := parse_id(ref)) is not None}
    names = [ref for ref in refs if ref not in ids]
    found: list[Role] = []
    if refs:
        stmt = select(Role).where(Role.id.in_(list(ids.values())) | Role.name.in_(names))
        found = list((await session.execute(stmt)).scalars())
    by_id = {role.id: role for role in found}
    by_name = {role.name: role for role in found}
    resolved: dict[uuid.UUID, Role] = {}
    missing: list[FieldError] = []
    for index, ref in enumerate(refs):
        role = by_id.get(ids[ref]) if ref in ids else by_name.get(ref)
        if role is None:
            missing.append(FieldError(f"{field}.{index}", "unknown", f"No role {ref!r}."))
        else:
            resolved.setdefault(role.id, role)
    if missing:
        raise UnknownRole("Unknown roles.", errors=missing)
    return list(resolved.values())


async def roles_of(session: AsyncSession, staff_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Role]]:
    """Each staff user's roles (by name), for a whole page in one query."""
    wanted = list(staff_ids)
    result: dict[uuid.UUID, list[Role]] = {staff_id: [] for staff_id in wanted}
    if not wanted:
        return result
    rows = await session.execute(
        select(StaffRole.staff_id, Role).join(Role, Role.id == StaffRole.role_id)
        .where(StaffRole.staff_id.in_(wanted)).order_by(Role.name)
    )
    for staff_id, role in rows:
        result[staff_id].append(role)
    return result


async def holders(session: AsyncSession, role_id: uuid.UUID) -> list[uuid.UUID]:
    return list((await session.execute(select(StaffRole.staff_id).where(StaffRole.role_id == role_id))).scalars())


def _check_grant(actor_permissions: frozenset[str], permissions: Iterable[str]) -> None:
    beyond = not_held(actor_permissions, permissions)
    if beyond:
        raise RolePermissionEscalation(
            "A role can only grant permissions you hold yourself; you lack: " + ", ".join(sorted(beyond)) + "."
        )


async def _flush_unique(session: AsyncSession, name: str) -> None:
    """A concurrent insert of the same name (past the look-up) is a 409, not a 500; the request's
    transaction rolls back either way."""
    try:
        await session.flush()
    except IntegrityError:
        raise RoleNameTaken(f"A role named {name!r} already exists.") from None


async def create(
    session: AsyncSession, *, name: str, description: str, permissions: Iterable[str], actor: Actor,
    actor_permissions: frozenset[str], client: ClientInfo,
) -> Role:
    name = _check_name(name)
    granted = validated(permissions)
    _check_grant(actor_permissions, granted)
    if await session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise RoleNameTaken(f"A role named {name!r} already exists.")
    role = Role(id=new_id(), name=name, description=description, permissions=granted, is_builtin=False)
    session.add(role)
    await _flush_unique(session, name)
    await session.refresh(role)
    await audit.record(session, "role.created", actor=actor, subject=("role", str(role.id)), client=client,
                       details={"name": name, "permissions": granted})
    return role


@dataclass(frozen=True)
class RoleChanges:
    name: str | None = None
    description: str | None = None
    permissions: list[str] | None = None


async def update(
    session: AsyncSession, cache: Cache, role: Role, changes: RoleChanges, *, actor: Actor,
    actor_permissions: frozenset[str], client: ClientInfo,
) -> Role:
    """Apply `changes` to `role` (loaded with a row lock); holders are signed out when its grants change."""
    # Managing a role means being able to grant everything it grants, before and after.
    _check_grant(actor_permissions, role.permissions)
    diff: dict[str, Any] = {}
    if changes.name is not None and changes.name != role.name:
        if role.is_builtin:
            raise BuiltinRoleProtected("Built-in roles cannot be renamed.")
        new_name = _check_name(changes.name)
        if await session.scalar(select(Role.id).where(Role.name == new_name)) is not None:
            raise RoleNameTaken(f"A role named {new_name!r} already exists.")
        diff["name"] = {"from": role.name, "to": new_name}
        role.name = new_name
    if changes.description is not None and changes.description != role.description:
        diff["description"] = {"from": role.description, "to": changes.description}
        role.description = changes.description
    permissions_changed = False
    if changes.permissions is not None:
        granted = validated(changes.permissions)
        _check_grant(actor_permissions, granted)
        if granted != sorted(role.permissions):
            diff["permissions"] = {"from": sorted(role.permissions), "to": granted}
            role.permissions = granted
            permissions_changed = True
    if not diff:
        return role
    await _flush_unique(session, role.name)
    signed_out = 0
    if permissions_changed:
        signed_out = await _sign_out_holders(session, cache, role.id, reason="role_changed")
    await audit.record(session, "role.updated", actor=actor, subject=("role", str(role.id)), client=client,
                       details={"changes": diff, "holders_signed_out": signed_out})
    await session.refresh(role)
    return role


async def delete(
    session: AsyncSession, cache: Cache, role: Role, *, actor: Actor, actor_permissions: frozenset[str],
    client: ClientInfo,
) -> None:
    if role.is_builtin:
        raise BuiltinRoleProtected("Built-in roles cannot be deleted.")
    _check_grant(actor_permissions, role.permissions)
    # Holders lose the role's permissions: sign them out before the memberships disappear with it.
    signed_out = await _sign_out_holders(session, cache, role.id, reason="role_deleted")
    await session.delete(role)
    await session.flush()
    await audit.record(session, "role.deleted", actor=actor, subject=("role", str(role.id)), client=client,
                       details={"name": role.name, "permissions": sorted(role.permissions),
                                "holders_signed_out": signed_out})


async def _sign_out_holders(session: AsyncSession, cache: Cache, role_id: uuid.UUID, *, reason: str) -> int:
    staff_ids = await holders(session, role_id)
    for staff_id in staff_ids:
        await sessions.revoke_all(session, cache, STAFF_KIND, staff_id, reason=reason)
    return len(staff_ids)
