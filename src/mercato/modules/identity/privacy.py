"""GDPR requests of a customer: a copy of their data (Art. 15 and 20) and erasure (Art. 17).

Erasure pseudonymises rather than deletes the customer row: its id stays, because the audit log
(kept for security, see docs/privacy.md) and, later, orders and invoices (kept for tax law) refer
to it. Everything that identifies the person on the row itself is removed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.outbox import emit
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, customers, mfa, sessions, throttle
from mercato.modules.identity.addresses import lock_customer
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import InvalidCredentials, MfaRequired
from mercato.modules.identity.events import CustomerErased
from mercato.modules.identity.models import (
    Address,
    AuditEntry,
    AuthSession,
    Customer,
    OneTimeToken,
    Wishlist,
    WishlistItem,
)
from mercato.modules.identity.passwords import UNUSABLE_PASSWORD, verify_password

KIND = "customer"
# Bounds the export of a customer whose devices signed in that often; audit.entries_about has the same.
MAX_EXPORTED_SESSIONS = 10_000


def erased_email(customer: Customer) -> str:
    # `.invalid` is reserved (RFC 2606): nothing is ever delivered there, and the id keeps it unique.
    return f"erased-{customer.id}@erased.invalid"


@dataclass(frozen=True)
class WishlistData:
    wishlist: Wishlist
    items: list[WishlistItem]


@dataclass(frozen=True)
class PersonalData:
    """Everything held about one customer; the endpoint renders it as JSON."""

    customer: Customer
    addresses: list[Address]
    wishlists: list[WishlistData]
    sessions: list[AuthSession]
    audit_entries: list[AuditEntry]
    exported_at: datetime = field(default_factory=utcnow)


async def export(session: AsyncSession, customer: Customer, client: ClientInfo) -> PersonalData:
    """Collect the customer's data (a fixed number of queries) and audit the request."""
    addresses = list((await session.execute(
        select(Address).where(Address.customer_id == customer.id).order_by(Address.created_at, Address.id)
    )).scalars())
    wishlists = list((await session.execute(
        select(Wishlist).where(Wishlist.customer_id == customer.id).order_by(Wishlist.created_at, Wishlist.id)
    )).scalars())
    items: dict[uuid.UUID, list[WishlistItem]] = {w.id: [] for w in wishlists}
    if wishlists:
        rows = (await session.execute(
            select(WishlistItem).where(WishlistItem.wishlist_id.in_(list(items)))
            .order_by(WishlistItem.added_at, WishlistItem.variant_id)
        )).scalars()
        for item in rows:
            items[item.wishlist_id].append(item)
    signed_in = list((await session.execute(
        select(AuthSession)
        .where(AuthSession.subject_kind == KIND, AuthSession.subject_id == customer.id)
        .order_by(AuthSession.created_at.desc())
        .limit(MAX_EXPORTED_SESSIONS)
    )).scalars())
    entries = await audit.entries_about(session, KIND, str(customer.id))
    await audit.record(session, "privacy.export", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)
    return PersonalData(
        customer=customer, addresses=addresses,
        wishlists=[WishlistData(w, items[w.id]) for w in wishlists],
        sessions=signed_in, audit_entries=entries,
    )


async def erase(
    session: AsyncSession, factory: async_sessionmaker[AsyncSession], cache: Cache, customer_id: str, *,
    password: str, otp: str | None, settings: Settings, client: ClientInfo,
) -> None:
    """Erase the customer's personal data and end every session.

    The password (and, with two-factor authentication on, a code) is asked again so that a stolen
    access token alone cannot destroy an account; wrong ones change nothing. Attempts count against
    the same re-authentication throttle as turning MFA off, so the password cannot be guessed here at
    leisure. The attempt is counted first, in a transaction of its own (a failed request rolls back),
    so this must run before `session` reads anything."""
    attempt = await throttle.begin_attempt(factory, throttle.throttle_key(f"{KIND}:reauth", customer_id),
                                           throttle.policy_from(settings))
    customer = await customers.signed_in(session, customer_id)
    if not verify_password(customer.password_hash, password):
        raise InvalidCredentials("The password is incorrect.", code="auth.invalid_password")
    if customer.mfa_enabled_at is not None:
        if not otp:
            await throttle.forgive(factory, attempt)  # the password was right; only the code is missing
            raise MfaRequired("Two-factor authentication is on: send a current code (or a recovery code) as `otp`.")
        accepted, _ = await mfa.second_factor_ok(session, KIND, customer, otp)
        if not accepted:
            raise InvalidCredentials("The second-factor code is not valid.", code="auth.invalid_otp")
    await throttle.clear(session, attempt.key)
    await lock_customer(session, customer.id)
    now = utcnow()
    customer.email = erased_email(customer)
    customer.email_verified_at = None
    customer.password_hash = UNUSABLE_PASSWORD
    customer.first_name = ""
    customer.last_name = ""
    customer.phone = None
    customer.marketing_consent = False
    customer.marketing_consent_at = None
    customer.locale = None
    customer.currency = None
    customer.is_active = False
    customer.erased_at = now
    customer.updated_at = now
    await mfa.disable(session, KIND, customer)
    await session.execute(delete(Address).where(Address.customer_id == customer.id))
    await session.execute(delete(Wishlist).where(Wishlist.customer_id == customer.id))  # items cascade
    # Pending verification and password-reset links: nothing may be redeemed for this account any more.
    await session.execute(
        delete(OneTimeToken).where(OneTimeToken.subject_kind == KIND, OneTimeToken.subject_id == customer.id)
    )
    await sessions.revoke_all(session, cache, KIND, customer.id, reason="erased")
    # The revoked sessions stay as records, without the devices' addresses and browsers.
    await session.execute(
        update(AuthSession)
        .where(AuthSession.subject_kind == KIND, AuthSession.subject_id == customer.id)
        .values(ip=None, user_agent=None)
    )
    await emit(session, CustomerErased(customer_id=str(customer.id)))
    await audit.record(session, "privacy.erasure", actor=Actor(KIND, str(customer.id)),
                       subject=(KIND, str(customer.id)), client=client)
    await session.flush()
