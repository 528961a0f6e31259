"""Customer accounts: registration, email verification, sign-in, passwords and profile."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, InvalidInput, NotFound
from mercato.kit.outbox import emit
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, onetime, sessions
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidCredentials
from mercato.modules.identity.events import (
    CustomerRegistered,
    EmailVerificationRequested,
    PasswordChanged,
    PasswordResetRequested,
    RegistrationAttemptedForExistingEmail,
)
from mercato.modules.identity.models import Customer
from mercato.modules.identity.passwords import check_policy, hash_password, verify_password
from mercato.modules.identity.signin import SignInRequest, sign_in
from mercato.modules.identity.tokens import KeyRing

KIND = "customer"
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    normalised = normalise_email(email)
    local, _, domain = normalised.partition("@")
    if not local or "." not in domain or " " in normalised or len(normalised) > 320 or domain.startswith("."):
        raise InvalidInput("Enter a valid email address.",
                           errors=[FieldError("email", "invalid", "Not a valid email address.")])
    return normalised


async def find_by_email(session: AsyncSession, email: str) -> Customer | None:
    return await session.scalar(
        select(Customer).where(Customer.email == normalise_email(email), Customer.erased_at.is_(None))
    )


async def get(session: AsyncSession, customer_id: uuid.UUID | str) -> Customer:
    try:
        parsed = uuid.UUID(str(customer_id))
    except ValueError:
        raise NotFound("No such customer.", code="customer.not_found") from None
    customer = await session.get(Customer, parsed)
    if customer is None or customer.erased_at is not None:
        raise NotFound("No such customer.", code="customer.not_found")
    return customer


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    marketing_consent: bool = False


async def register(session: AsyncSession, data: Registration, settings: Settings, client: ClientInfo) -> str:
    """Create the account, or — when the email is taken — quietly notify its owner instead, so the
    answer is the same either way. Returns the normalised email."""
    email = validate_email(data.email)
    check_policy(data.password, personal=(email.split("@")[0], data.first_name, data.last_name))
    # Hash first on both paths: the same work whether or not the email exists.
    password_hash = hash_password(data.password)
    existing = await find_by_email(session, email)
    if existing is not None:
        await emit(session, RegistrationAttemptedForExistingEmail(customer_id=str(existing.id), email=email))
        return email
    now = utcnow()
    customer = Customer(
        email=email, password_hash=password_hash, first_name=data.first_name.strip(),
        last_name=data.last_name.strip(), marketing_consent=data.marketing_consent,
        marketing_consent_at=now if data.marketing_consent else None, password_changed_at=now,
    )
    session.add(customer)
    await session.flush()
    token = await onetime.issue(session, purpose=VERIFY_EMAIL, kind=KIND, subject_id=customer.id,
                                ttl=timedelta(seconds=settings.email_verification_ttl_s))
    await emit(session, CustomerRegistered(customer_id=str(customer.id), email=email, verification_token=token))
    await audit.record(session, "customer.registered", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)
    return email


async def verify_email(session: AsyncSession, token: str, client: ClientInfo) -> Customer:
    customer = await get(session, await onetime.redeem(session, purpose=VERIFY_EMAIL, kind=KIND, token=token))
    if customer.email_verified_at is None:
        customer.email_verified_at = utcnow()
        await audit.record(session, "email.verified", actor=Actor(KIND, str(customer.id)),
                           subject=(KIND, str(customer.id)), client=client)
    return customer


async def resend_verification(session: AsyncSession, customer: Customer, settings: Settings) -> None:
    if customer.email_verified_at is not None:
        return
    token = await onetime.issue(session, purpose=VERIFY_EMAIL, kind=KIND, subject_id=customer.id,
                                ttl=timedelta(seconds=settings.email_verification_ttl_s))
    await emit(session, EmailVerificationRequested(customer_id=str(customer.id), email=customer.email,
                                                   verification_token=token))


async def login(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], request: SignInRequest,
    settings: Settings, keyring: KeyRing,
) -> sessions.TokenPair:
    account = await find_by_email(session, request.email)
    return await sign_in(session, factory, kind=KIND, account=account, request=request, permissions=[],
                         settings=settings, keyring=keyring)


async def request_password_reset(session: AsyncSession, email: str, settings: Settings, client: ClientInfo) -> None:
    """Always answers the same; mails a single-use link only when the account exists."""
    customer = await find_by_email(session, email)
    if customer is None:
        hash_password("timing-equaliser")  # the real path does comparable work (token + event)
        return
    token = await onetime.issue(session, purpose=RESET_PASSWORD, kind=KIND, subject_id=customer.id,
                                ttl=timedelta(seconds=settings.password_reset_ttl_s))
    await emit(session, PasswordResetRequested(customer_id=str(customer.id), email=customer.email, reset_token=token))
    await audit.record(session, "password.reset_requested", actor=Actor("anonymous"),
                       subject=(KIND, str(customer.id)), client=client)


async def reset_password(session: AsyncSession, cache: Cache, token: str, new_password: str,
                         client: ClientInfo) -> None:
    customer = await get(session, await onetime.redeem(session, purpose=RESET_PASSWORD, kind=KIND, token=token))
    check_policy(new_password, personal=(customer.email.split("@")[0], customer.first_name, customer.last_name))
    customer.password_hash = hash_password(new_password)
    customer.password_changed_at = utcnow()
    # The reset link came by email, so the mailbox is proven too.
    customer.email_verified_at = customer.email_verified_at or utcnow()
    await sessions.revoke_all(session, cache, KIND, customer.id, reason="password_reset")
    await emit(session, PasswordChanged(customer_id=str(customer.id), email=customer.email))
    await audit.record(session, "password.reset", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)


async def change_password(
    session: AsyncSession, cache: Cache, customer: Customer, *, current: str, new: str, keep_session: uuid.UUID | None,
    client: ClientInfo,
) -> None:
    if not verify_password(customer.password_hash, current):
        raise InvalidCredentials("The current password is incorrect.", code="auth.invalid_password")
    check_policy(new, personal=(customer.email.split("@")[0], customer.first_name, customer.last_name))
    customer.password_hash = hash_password(new)
    customer.password_changed_at = utcnow()
    await sessions.revoke_all(session, cache, KIND, customer.id, reason="password_changed",
                              except_session=keep_session)
    await emit(session, PasswordChanged(customer_id=str(customer.id), email=customer.email))
    await audit.record(session, "password.changed", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)
