"""Staff accounts, their roles and effective permissions."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.settings import Settings
from mercato.modules.identity.errors import StaffEmailTaken
from mercato.modules.identity.models import Role, StaffRole, StaffUser
from mercato.modules.identity.passwords import check_policy, hash_password
from mercato.modules.identity.permissions import ALL, BUILTIN_ROLES
from mercato.modules.identity.sessions import TokenPair
from mercato.modules.identity.signin import SignInRequest, sign_in
from mercato.modules.identity.tokens import KeyRing


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
            .values(id=uuid.uuid4(), name=name, description=description, permissions=sorted(permissions),
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
# A staff user who must enrol in MFA first gets a token good for nothing but enrolment.
MFA_ENROLMENT_ONLY = "self:mfa_enrolment"


async def token_permissions(session: AsyncSession, user: StaffUser, settings: Settings) -> list[str]:
    if settings.staff_require_mfa and user.mfa_enabled_at is None:
        return [MFA_ENROLMENT_ONLY]
    return await effective_permissions(session, user)


async def login(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], request: SignInRequest, settings: Settings,
    keyring: KeyRing,
) -> TokenPair:
    account = await find_by_email(session, request.email)
    permissions = await token_permissions(session, account, settings) if account else []
    return await sign_in(session, factory, kind=KIND, account=account, request=request, permissions=permissions,
                         settings=settings, keyring=keyring)
