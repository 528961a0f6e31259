"""/store/me/export and DELETE /store/me: the customer's GDPR requests (see docs/privacy.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_customer
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import privacy
from mercato.modules.identity.endpoints.common import client_info, detached, per_ip_limit, settings_of
from mercato.modules.identity.endpoints.store_addresses import address_out
from mercato.modules.identity.endpoints.store_me import current_customer
from mercato.modules.identity.endpoints.store_wishlists import item_out
from mercato.modules.identity.models import Customer
from mercato.modules.identity.schemas import (
    ErasureIn,
    ExportAuditEntry,
    ExportConsents,
    ExportPreferences,
    ExportProfile,
    ExportSession,
    ExportWishlist,
    PersonalDataExport,
)

router = APIRouter(prefix="/store/me", tags=["store: account"], route_class=MercatoRoute)


def export_out(data: privacy.PersonalData) -> PersonalDataExport:
    c = data.customer
    return PersonalDataExport(
        exported_at=data.exported_at,
        profile=ExportProfile(
            id=str(c.id), email=c.email, email_verified_at=c.email_verified_at, first_name=c.first_name,
            last_name=c.last_name, phone=c.phone, mfa_enabled=c.mfa_enabled_at is not None,
            mfa_enabled_at=c.mfa_enabled_at, password_changed_at=c.password_changed_at, created_at=c.created_at,
            updated_at=c.updated_at,
        ),
        consents=ExportConsents(marketing_consent=c.marketing_consent, marketing_consent_at=c.marketing_consent_at),
        preferences=ExportPreferences(locale=c.locale, currency=c.currency),
        addresses=[address_out(a) for a in data.addresses],
        wishlists=[
            ExportWishlist(id=str(w.wishlist.id), name=w.wishlist.name, created_at=w.wishlist.created_at,
                           updated_at=w.wishlist.updated_at, items=[item_out(i) for i in w.items])
            for w in data.wishlists
        ],
        sessions=[
            ExportSession(
                id=str(s.id), created_at=s.created_at, last_seen_at=s.last_seen_at,
                expires_at=min(s.idle_expires_at, s.absolute_expires_at), revoked_at=s.revoked_at,
                revoke_reason=s.revoke_reason, ip=str(s.ip) if s.ip else None, user_agent=s.user_agent,
            )
            for s in data.sessions
        ],
        audit_entries=[
            ExportAuditEntry(occurred_at=e.occurred_at, event=e.event, actor_kind=e.actor_kind, actor_id=e.actor_id,
                             ip=str(e.ip) if e.ip else None, user_agent=e.user_agent, details=dict(e.details))
            for e in data.audit_entries
        ],
        orders=[],
    )


@router.get("/export", response_model=PersonalDataExport, responses=problem_responses(401))
async def export_personal_data(
    request: Request, response: Response, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> PersonalDataExport:
    """A machine-readable copy of everything held about the customer: profile, consents,
    preferences, addresses, wishlists, sessions and the security log entries about them.
    `orders` is filled once the orders module exists. The request itself is audited."""
    data = await privacy.export(session, customer, client_info(request))
    response.headers["cache-control"] = "no-store"
    response.headers["content-disposition"] = f'attachment; filename="mercato-data-{customer.id}.json"'
    return export_out(data)


@router.delete("", status_code=204, response_class=Response,
               dependencies=[Depends(per_ip_limit("rate_limit_login", "store.erase"))],
               responses=problem_responses(400, 401, 404, 422, 429))
async def erase_account(
    body: ErasureIn, request: Request, principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Erase the account (GDPR Art. 17): personal data is removed or pseudonymised, addresses and
    wishlists deleted, every session ends. Needs the current password (wrong: 401
    `auth.invalid_password`, nothing changes) and, with two-factor authentication on, `otp` (missing:
    401 `auth.mfa_required`; wrong: 401 `auth.invalid_otp`). Failed attempts are throttled (429).
    The email address can then register a new account."""
    await privacy.erase(session, detached(request), request.app.state.cache, principal.id, password=body.password,
                        otp=body.otp, settings=settings_of(request), client=client_info(request))
    return Response(status_code=204)
