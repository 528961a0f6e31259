"""Staff accounts and sign-in (the customer side, roles, MFA and sessions grow here in step 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.identity.errors import InvalidCredentials, StaffEmailTaken
from mercato.modules.identity.models import StaffUser
from mercato.modules.identity.passwords import hash_password, needs_rehash, verify_password
from mercato.modules.identity.tokens import issue_access_token

ALL_PERMISSIONS = "*"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_superuser(session: AsyncSession, *, email: str, password: str) -> StaffUser:
    email = normalise_email(email)
    exists = await session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.email == email))
    if exists:
        raise StaffEmailTaken(f"A staff user with email {email} already exists.")
    user = StaffUser(email=email, password_hash=hash_password(password), is_superuser=True,
                     permissions=[ALL_PERMISSIONS])
    session.add(user)
    await session.flush()
    return user


async def staff_login(
    session: AsyncSession, *, email: str, password: str, secret: str, ttl: timedelta
) -> TokenPair:
    user = await session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    # verify_password runs the same argon2 work for unknown emails, so timing reveals nothing.
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise InvalidCredentials("Email or password is incorrect.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = issue_access_token(secret, subject=str(user.id), kind="staff",
                               permissions=list(user.permissions), ttl=ttl)
    return TokenPair(access_token=token, expires_in=int(ttl.total_seconds()))
