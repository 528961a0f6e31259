"""Staff accounts, their roles and effective permissions.

Nobody hands out more than they hold: granting a role or a permission needs that permission
yourself, and you may only manage staff users whose permissions you hold all of. Changing what a
staff user may do (or deactivating them) signs them out everywhere, so it applies at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, roles, sessions
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.customers import validate_email
from mercato.modules.identity.errors import (
    CannotDeactivateSelf,
    StaffEmailTaken,
    StaffNotFound,
    StaffOutranked,
    StaffPermissionEscalation,
)
from mercato.modules.identity.models import Role, StaffRole, StaffUser
from mercato.modules.identity.passwords import check_policy, hash_password
from mercato.modules.identity.permissions import ALL, BUILTIN_ROLES, MFA_ENROLMENT_ONLY, not_held, validated
from mercato.modules.identity.rules import normalise_email
from mercato.modules.identity.sessions import TokenPair
from mercato.modules.identity.signin import SignInRequest, begin, sign_in
from mercato.modules.identity.tokens import KeyRing


async def find_by_email(session: AsyncSession, email: str) -> StaffUser | None:
    return await session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


async def effective_permissions(session: AsyncSession, staff: StaffUser) -> list[str]:
    if staff.is_superuser:
        return [ALL]
    role_perms = (
        await session.execute(
            select(func.unnest(Role.permissions))
            .join(StaffRole, StaffRole.role_id == Role.id)
            .where(StaffRole.staff_id == staff.id)
        )
    ).scalars()
    return sorted(set(role_perms) | set(staff.permissions))


async def seed_builtin_roles(session: AsyncSession) -> int:
    added = 0
    for name, (description, permissions) in BUILTIN_ROLES.items():
        result = await session.execute(
            insert(Role)
            .values(id=new_id(), name=name, description=description, permissions=sorted(permissions),
                    is_builtin=True)
            .on_conflict_do_nothing(index_elements=[Role.name])
            .returning(Role.id)
        )
        added += len(result.all())
    return added


async def create_superuser(session: AsyncSession, *, email: str, password: str) -> StaffUser:
    email = normalise_email(email)
    if await find_by_email(session, email) is not None:
        raise StaffEmailTaken(f"A staff user with email {email} already exists.")
    check_policy(password, personal=(email.split("@")[0],))
    user = StaffUser(email=email, password_hash=hash_password(password), is_superuser=True, permissions=[ALL])
    session.add(user)
    await session.flush()
    return user


KIND = "staff"


async def token_permissions(session: AsyncSession, user: StaffUser, settings: Settings) -> list[str]:
    if settings.staff_require_mfa and user.mfa_enabled_at is None:
        return [MFA_ENROLMENT_ONLY]
    return await effective_permissions(session, user)


async def login(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], request: SignInRequest, settings: Settings,
    keyring: KeyRing,
) -> TokenPair:
    # Counted before the look-up, so that the count commits on its own (see signin.begin).
    attempt = await begin(factory, kind=KIND, request=request, settings=settings)
    account = await find_by_email(session, request.email)
    permissions = await token_permissions(session, account, settings) if account else []
    return await sign_in(session, factory, kind=KIND, account=account, request=request, permissions=permissions,
                         settings=settings, keyring=keyring, attempt=attempt)


# --- management --------------------------------------------------------------------------------


def grants_of(user: StaffUser, user_roles: Iterable[Role]) -> list[str]:
    """Effective permissions from already-loaded roles (no query; see effective_permissions)."""
    if user.is_superuser:
        return [ALL]
    granted = set(user.permissions)
    for role in user_roles:
        granted.update(role.permissions)
    return sorted(granted)


async def get(session: AsyncSession, staff_id: str | uuid.UUID, *, lock: bool = False) -> StaffUser:
    parsed = staff_id if isinstance(staff_id, uuid.UUID) else parse_id(staff_id)
    user = None if parsed is None else await session.get(StaffUser, parsed, with_for_update=lock)
    if user is None:
        raise StaffNotFound("No such staff user.")
    return user


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_staff(
    session: AsyncSession, *, limit: int, cursor: str | None, q: str | None = None, is_active: bool | None = None,
) -> Page[StaffUser]:
    stmt: Select[Any] = select(StaffUser)
    if q:
        pattern = _like(q.strip())
        stmt = stmt.where(or_(StaffUser.email.ilike(pattern), StaffUser.first_name.ilike(pattern),
                              StaffUser.last_name.ilike(pattern)))
    if is_active is not None:
        stmt = stmt.where(StaffUser.is_active.is_(is_active))
    keys = [SortKey(StaffUser.created_at, descending=True), SortKey(StaffUser.id, descending=True)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


def _check_grant(actor_permissions: frozenset[str], grants: Iterable[str]) -> None:
    beyond = not_held(actor_permissions, grants)
    if beyond:
        raise StaffPermissionEscalation(
            "You can only grant permissions you hold yourself; you lack: " + ", ".join(sorted(beyond)) + "."
        )


@dataclass(frozen=True)
class StaffDraft:
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    roles: Sequence[str] = field(default_factory=list)  # ids or names
    permissions: Sequence[str] = field(default_factory=list)


async def create(
    session: AsyncSession, draft: StaffDraft, *, actor: Actor, actor_permissions: frozenset[str], client: ClientInfo,
) -> tuple[StaffUser, list[Role]]:
    email = validate_email(draft.email)
    direct = validated(draft.permissions)
    user_roles = await roles.resolve(session, draft.roles)
    first_name, last_name = draft.first_name.strip(), draft.last_name.strip()
    user = StaffUser(id=new_id(), email=email, first_name=first_name, last_name=last_name, is_active=True,
                     is_superuser=False, permissions=direct)
    _check_grant(actor_permissions, grants_of(user, user_roles))
    if await find_by_email(session, email) is not None:
        raise StaffEmailTaken(f"A staff user with email {email} already exists.")
    check_policy(draft.password, personal=(email.split("@")[0], first_name, last_name))
    user.password_hash = hash_password(draft.password)
    session.add(user)
    await _flush_unique_email(session, email)
    session.add_all(StaffRole(staff_id=user.id, role_id=role.id) for role in user_roles)
    await session.flush()
    await session.refresh(user)
    await audit.record(session, "staff.created", actor=actor, subject=(KIND, str(user.id)), client=client,
                       details={"email": email, "roles": [r.name for r in user_roles], "permissions": direct})
    return user, sorted(user_roles, key=lambda r: r.name)


async def _flush_unique_email(session: AsyncSession, email: str) -> None:
    try:
        await session.flush()
    except IntegrityError:  # a concurrent create won the race past the look-up
        raise StaffEmailTaken(f"A staff user with email {email} already exists.") from None


@dataclass(frozen=True)
class StaffChanges:
    """None means: leave as is."""

    first_name: str | None = None
    last_name: str | None = None
    is_active: bool | None = None
    roles: Sequence[str] | None = None
    permissions: Sequence[str] | None = None


async def update(
    session: AsyncSession, cache: Cache, user: StaffUser, changes: StaffChanges, *, actor: Actor,
    actor_permissions: frozenset[str], client: ClientInfo,
) -> tuple[StaffUser, list[Role]]:
    """Apply `changes` to `user` (loaded with a row lock). Returns the user and their roles."""
    old_roles = (await roles.roles_of(session, [user.id]))[user.id]
    old_grants = grants_of(user, old_roles)
    old_direct = sorted(user.permissions)
    beyond = not_held(actor_permissions, old_grants)
    if beyond:
        raise StaffOutranked("You can only manage staff users whose permissions you hold; you lack: "
                             + ", ".join(sorted(beyond)) + ".")
    profile: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        value = getattr(changes, name)
        if value is not None and value.strip() != getattr(user, name):
            profile[name] = {"from": getattr(user, name), "to": value.strip()}
            setattr(user, name, value.strip())
    deactivated = False
    if changes.is_active is not None and changes.is_active != user.is_active:
        if not changes.is_active and actor.kind == KIND and actor.id == str(user.id):
            raise CannotDeactivateSelf("You cannot deactivate your own account.")
        profile["is_active"] = {"from": user.is_active, "to": changes.is_active}
        user.is_active = changes.is_active
        deactivated = not changes.is_active

    new_roles = old_roles if changes.roles is None else await roles.resolve(session, changes.roles)
    new_direct = old_direct if changes.permissions is None else validated(changes.permissions)
    roles_changed = {r.id for r in new_roles} != {r.id for r in old_roles}
    direct_changed = new_direct != old_direct
    if roles_changed or direct_changed:
        user.permissions = new_direct
        _check_grant(actor_permissions, grants_of(user, new_roles))
        if roles_changed:
            await session.execute(delete(StaffRole).where(StaffRole.staff_id == user.id))
            session.add_all(StaffRole(staff_id=user.id, role_id=role.id) for role in new_roles)

    if not profile and not roles_changed and not direct_changed:
        return user, old_roles
    await session.flush()
    if deactivated or roles_changed or direct_changed:
        # Their access tokens carry the old permissions (or an active account): end them now.
        await sessions.revoke_all(session, cache, KIND, user.id,
                                  reason="staff_deactivated" if deactivated else "permissions_changed")
    if profile:
        await audit.record(session, "staff.updated", actor=actor, subject=(KIND, str(user.id)), client=client,
                           details={"changes": profile})
    if roles_changed or direct_changed:
        await audit.record(
            session, "staff.roles_changed", actor=actor, subject=(KIND, str(user.id)), client=client,
            details={"roles": {"from": sorted(r.name for r in old_roles), "to": sorted(r.name for r in new_roles)},
                     "permissions": {"from": old_direct, "to": new_direct},
                     "effective": {"from": old_grants, "to": grants_of(user, new_roles)}},
        )
    await session.refresh(user)
    return user, sorted(new_roles, key=lambda r: r.name)
