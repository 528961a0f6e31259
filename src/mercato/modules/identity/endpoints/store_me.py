"""/store/me: the signed-in customer's profile, password and sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_customer
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import audit, customers, profile, sessions
from mercato.modules.identity.context import Actor
from mercato.modules.identity.endpoints.common import client_info, detached, session_out, settings_of
from mercato.modules.identity.errors import SessionNotFound
from mercato.modules.identity.models import Customer
from mercato.modules.identity.schemas import (
    AcceptedOut,
    PasswordChangeIn,
    ProfileOut,
    ProfileUpdateIn,
    SessionList,
)

router = APIRouter(prefix="/store/me", tags=["store: account"], route_class=MercatoRoute)


def profile_out(customer: Customer) -> ProfileOut:
    return ProfileOut(
        id=str(customer.id), email=customer.email, email_verified=customer.email_verified_at is not None,
        first_name=customer.first_name, last_name=customer.last_name, phone=customer.phone,
        marketing_consent=customer.marketing_consent, marketing_consent_at=customer.marketing_consent_at,
        locale=customer.locale, currency=customer.currency, mfa_enabled=customer.mfa_enabled_at is not None,
        created_at=customer.created_at,
    )


async def current_customer(
    principal: Principal = Depends(require_customer), session: AsyncSession = Depends(get_session)
) -> Customer:
    return await customers.signed_in(session, principal.id)


@router.get("", response_model=ProfileOut, responses=problem_responses(401))
async def get_profile(customer: Customer = Depends(current_customer)) -> ProfileOut:
    return profile_out(customer)


@router.patch("", response_model=ProfileOut, responses=problem_responses(400, 401, 415, 422))
async def update_profile(
    body: ProfileUpdateIn, customer: Customer = Depends(current_customer),
) -> ProfileOut:
    """Change names, phone, marketing consent (time-stamped) and preferences (locale, currency)."""
    profile.update(customer, body.model_dump(exclude_unset=True))
    return profile_out(customer)


@router.post("/password", status_code=204, response_class=Response,
             responses=problem_responses(400, 401, 415, 422, 429))
async def change_password(
    body: PasswordChangeIn, request: Request, principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Change the password; every other session is signed out, this one stays. Wrong current
    passwords are throttled per account (429 with Retry-After)."""
    # No current_customer dependency here: the attempt must be counted before the session reads.
    await customers.change_password(
        session, detached(request), request.app.state.cache, principal.id, current=body.current_password,
        new=body.new_password, keep_session=uuid.UUID(principal.session_id) if principal.session_id else None,
        settings=settings_of(request), client=client_info(request),
    )
    return Response(status_code=204)


@router.post("/verify-email/resend", status_code=202, response_model=AcceptedOut, responses=problem_responses(401))
async def resend_verification(
    request: Request, customer: Customer = Depends(current_customer), session: AsyncSession = Depends(get_session)
) -> AcceptedOut:
    await customers.resend_verification(session, customer, settings_of(request))
    return AcceptedOut(detail="If the address is not verified yet, a new link is on its way.")


@router.get("/sessions", response_model=SessionList, responses=problem_responses(401))
async def list_sessions(
    principal: Principal = Depends(require_customer), session: AsyncSession = Depends(get_session)
) -> SessionList:
    rows = await sessions.list_active(session, "customer", uuid.UUID(principal.id))
    return SessionList(items=[session_out(row, principal.session_id) for row in rows])


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 404))
async def revoke_session(
    session_id: str, request: Request, principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> Response:
    owned = {str(row.id) for row in await sessions.list_active(session, "customer", uuid.UUID(principal.id))}
    if session_id not in owned:
        raise SessionNotFound("No such session.")
    await sessions.revoke(session, request.app.state.cache, uuid.UUID(session_id), reason="revoked_by_user")
    await audit.record(session, "session.revoked", actor=Actor("customer", principal.id),
                       subject=("customer", principal.id), client=client_info(request),
                       details={"session_id": session_id})
    return Response(status_code=204)


@router.delete("/sessions", status_code=204, response_class=Response, responses=problem_responses(401))
async def revoke_all_sessions(
    request: Request, principal: Principal = Depends(require_customer), session: AsyncSession = Depends(get_session)
) -> Response:
    """Sign out everywhere, this device included."""
    await sessions.revoke_all(session, request.app.state.cache, "customer", uuid.UUID(principal.id),
                              reason="revoked_by_user")
    await audit.record(session, "session.revoked", actor=Actor("customer", principal.id),
                       subject=("customer", principal.id), client=client_info(request), details={"all": True})
    return Response(status_code=204)
