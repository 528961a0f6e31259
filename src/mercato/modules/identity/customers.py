"""Customer accounts: registration, email verification, sign-in, passwords and profile."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, InvalidInput, NotFound
from mercato.kit.outbox import emit
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, onetime, sessions, throttle
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidCredentials, InvalidToken, WeakPassword
from mercato.modules.identity.events import (
    CustomerRegistered,
    EmailVerificationRequested,
    PasswordChanged,
    PasswordResetRequested,
    RegistrationAttemptedForExistingEmail,
)
from mercato.modules.identity.models import Customer
from mercato.modules.identity.passwords import check_policy, hash_password_async, verify_password_async
from mercato.modules.identity.rules import normalise_email, personal_words
from mercato.modules.identity.signin import SignInRequest, begin, sign_in
from mercato.modules.identity.tokens import KeyRing

KIND = "customer"
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret


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


async def signed_in(session: AsyncSession, customer_id: uuid.UUID | str) -> Customer:
    """The customer behind a valid access token: an account disabled since the token was issued
    answers 401 whatever the token says (an erased one: 404 customer.not_found, like `get`)."""
    customer = await get(session, customer_id)
    if not customer.is_active:
        raise InvalidToken("This account is disabled.", code="auth.account_disabled")
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
    check_policy(data.password, personal=personal_words(email, data.first_name, data.last_name))
    # Hash first on both paths: the same work whether or not the email exists.
    password_hash = await hash_password_async(data.password)
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
    try:
        # Two registrations of one new email can race past the look-up; the loser must get the
        # same answer as everyone else, not a 500 from the unique index.
        async with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        taken = await find_by_email(session, email)
        if taken is not None:
            await emit(session, RegistrationAttemptedForExistingEmail(customer_id=str(taken.id), email=email))
        return email
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
    # Counted before the look-up, so that the count commits on its own (see signin.begin).
    attempt = await begin(factory, kind=KIND, request=request, settings=settings)
    account = await find_by_email(session, request.email)
    return await sign_in(session, factory, kind=KIND, account=account, request=request, permissions=[],
                         settings=settings, keyring=keyring, attempt=attempt)


async def refresh(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], cache: Cache, refresh_token: str, *,
    client: ClientInfo, settings: Settings, keyring: KeyRing,
) -> sessions.TokenPair:
    """Trade a refresh token for a new pair (the old one is spent) while the account is usable."""
    rotation = await sessions.rotate(session, factory, cache, refresh_token, client=client, kind=KIND)
    try:
        await signed_in(session, rotation.auth_session.subject_id)
    except NotFound:
        raise InvalidToken("This account no longer exists.", code="auth.account_disabled") from None
    return sessions.issue_for(rotation.auth_session, rotation.refresh_token, [], settings, keyring)


async def request_password_reset(session: AsyncSession, email: str, settings: Settings, client: ClientInfo) -> None:
    """Always answers the same; mails a single-use link only when the account exists."""
    customer = await find_by_email(session, email)
    # Both paths write an audit entry and nothing slow: an argon2 hash on the unknown path alone
    # (as before) made unknown emails ~30 ms slower, which told them apart.
    if customer is None:
        await audit.record(session, "password.reset_requested", actor=Actor("anonymous"), client=client,
                           details={"known_account": False})
        return
    token = await onetime.issue(session, purpose=RESET_PASSWORD, kind=KIND, subject_id=customer.id,
                                ttl=timedelta(seconds=settings.password_reset_ttl_s))
    await emit(session, PasswordResetRequested(customer_id=str(customer.id), email=customer.email, reset_token=token))
    await audit.record(session, "password.reset_requested", actor=Actor("anonymous"),
                       subject=(KIND, str(customer.id)), client=client, details={"known_account": True})


async def reset_password(session: AsyncSession, cache: Cache, token: str, new_password: str,
                         client: ClientInfo) -> None:
    customer = await get(session, await onetime.redeem(session, purpose=RESET_PASSWORD, kind=KIND, token=token))
    check_policy(new_password, personal=personal_words(customer.email, customer.first_name, customer.last_name))
    customer.password_hash = await hash_password_async(new_password)
    customer.password_changed_at = utcnow()
    # The reset link came by email, so the mailbox is proven too.
    customer.email_verified_at = customer.email_verified_at or utcnow()
    await sessions.revoke_all(session, cache, KIND, customer.id, reason="password_reset")
    # Whoever holds the mailbox owns the account: failed guesses at the old password need not
    # keep its owner locked out of the new one.
    await throttle.clear(session, throttle.throttle_key(KIND, customer.email))
    await emit(session, PasswordChanged(customer_id=str(customer.id), email=customer.email))
    await audit.record(session, "password.reset", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)


async def change_password(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], cache: Cache, customer_id: str, *,
    current: str, new: str, keep_session: uuid.UUID | None, settings: Settings, client: ClientInfo,
) -> None:
    """Needs the current password. Wrong guesses count against the same per-account throttle as
    the other signed-in re-authentications (MFA changes), so a stolen access token cannot be used
    to guess the password at leisure. The attempt is counted before the request's session reads
    anything (see throttle.begin_attempt)."""
    attempt = await throttle.begin_attempt(factory, throttle.throttle_key(f"{KIND}:reauth", customer_id),
                                           throttle.policy_from(settings))
    customer = await signed_in(session, customer_id)
    try:
        check_policy(new, personal=personal_words(customer.email, customer.first_name, customer.last_name))
    except WeakPassword:
        # Refused before the current password was even looked at: not a guess.
        await session.rollback()
        await throttle.forgive(factory, attempt)
        raise
    if not await verify_password_async(customer.password_hash, current):
        raise InvalidCredentials("The current password is incorrect.", code="auth.invalid_password")
    await throttle.clear(session, attempt.key)
    customer.password_hash = await hash_password_async(new)
    customer.password_changed_at = utcnow()
    await sessions.revoke_all(session, cache, KIND, customer.id, reason="password_changed",
                              except_session=keep_session)
    await emit(session, PasswordChanged(customer_id=str(customer.id), email=customer.email))
    await audit.record(session, "password.changed", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)


async def public_name(session: AsyncSession, customer_id: uuid.UUID) -> str | None:
    """The name shown publicly for a customer (reviews): first name and last initial ("Jane D."),
    never the full last name; None when the customer is unknown or gave no name."""
    row = (await session.execute(
        select(Customer.first_name, Customer.last_name).where(Customer.id == customer_id)
    )).first()
    if row is None:
        return None
    first, last = (row.first_name or "").strip(), (row.last_name or "").strip()
    if first and last:
        return f"{first} {last[0]}."
    return first or (f"{last[0]}." if last else None)
