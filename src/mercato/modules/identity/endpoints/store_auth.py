"""/store/auth: registration, sign-in, token refresh, sign-out, email verification, password reset."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_customer
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import audit, customers, sessions
from mercato.modules.identity.context import Actor
from mercato.modules.identity.endpoints.common import (
    client_info,
    detached,
    per_ip_limit,
    settings_of,
    token_pair_out,
)
from mercato.modules.identity.rules import normalise_email
from mercato.modules.identity.schemas import (
    AcceptedOut,
    EmailIn,
    LoginIn,
    PasswordResetConfirmIn,
    RefreshIn,
    RegisterIn,
    RegisterOut,
    TokenIn,
    TokenPairOut,
)
from mercato.modules.identity.signin import SignInRequest

router = APIRouter(prefix="/store/auth", tags=["store: auth"], route_class=MercatoRoute)


@router.post("/register", status_code=201, response_model=RegisterOut,
             dependencies=[Depends(per_ip_limit("rate_limit_register", "store.register"))],
             responses=problem_responses(400, 415, 422, 429))
async def register(body: RegisterIn, request: Request, session: AsyncSession = Depends(get_session)) -> RegisterOut:
    """Create a customer account. An email that already has one gets the same answer (and its owner
    a notice by email), so this endpoint never reveals who has an account."""
    email = await customers.register(
        session,
        customers.Registration(email=body.email, password=body.password, first_name=body.first_name,
                               last_name=body.last_name, marketing_consent=body.marketing_consent),
        settings_of(request), client_info(request),
    )
    return RegisterOut(email=email)


@router.post("/login", response_model=TokenPairOut,
             dependencies=[Depends(per_ip_limit("rate_limit_login", "store.login"))],
             responses=problem_responses(400, 401, 415, 422, 429))
async def login(body: LoginIn, request: Request, session: AsyncSession = Depends(get_session)) -> TokenPairOut:
    pair = await customers.login(
        session, detached(request),
        SignInRequest(email=normalise_email(body.email), password=body.password, otp=body.otp,
                      client=client_info(request)),
        settings_of(request), request.app.state.keyring,
    )
    return token_pair_out(pair)


@router.post("/refresh", response_model=TokenPairOut,
             dependencies=[Depends(per_ip_limit("rate_limit_login", "store.refresh"))],
             responses=problem_responses(400, 401, 415, 422, 429))
async def refresh(body: RefreshIn, request: Request, session: AsyncSession = Depends(get_session)) -> TokenPairOut:
    """Trade a refresh token for a new pair; the old refresh token is dead from now on."""
    pair = await customers.refresh(session, detached(request), request.app.state.cache, body.refresh_token,
                                   client=client_info(request), settings=settings_of(request),
                                   keyring=request.app.state.keyring)
    return token_pair_out(pair)


@router.post("/logout", status_code=204, response_class=Response, responses=problem_responses(401))
async def logout(
    request: Request, principal: Principal = Depends(require_customer), session: AsyncSession = Depends(get_session)
) -> Response:
    """Sign this device out: its session and every token of it stop working at once."""
    assert principal.session_id is not None
    await sessions.revoke(session, request.app.state.cache, uuid.UUID(principal.session_id), reason="logout")
    await audit.record(session, "logout", actor=Actor("customer", principal.id), subject=("customer", principal.id),
                       client=client_info(request), details={"session_id": principal.session_id})
    return Response(status_code=204)


@router.post("/verify-email", response_model=AcceptedOut, responses=problem_responses(400, 415, 422))
async def verify_email(body: TokenIn, request: Request, session: AsyncSession = Depends(get_session)) -> AcceptedOut:
    await customers.verify_email(session, body.token, client_info(request))
    return AcceptedOut(detail="Email address verified.")


@router.post("/password-reset", status_code=202, response_model=AcceptedOut,
             dependencies=[Depends(per_ip_limit("rate_limit_password_reset", "store.password_reset"))],
             responses=problem_responses(400, 415, 422, 429))
async def request_password_reset(
    body: EmailIn, request: Request, session: AsyncSession = Depends(get_session)
) -> AcceptedOut:
    """Mail a single-use reset link (valid 1 h) if the account exists; the answer is the same either way."""
    await customers.request_password_reset(session, body.email, settings_of(request), client_info(request))
    return AcceptedOut(detail="If an account exists for this email, a reset link is on its way.")


@router.post("/password-reset/confirm", status_code=204, response_class=Response,
             dependencies=[Depends(per_ip_limit("rate_limit_password_reset", "store.password_reset_confirm"))],
             responses=problem_responses(400, 415, 422, 429))
async def confirm_password_reset(
    body: PasswordResetConfirmIn, request: Request, session: AsyncSession = Depends(get_session)
) -> Response:
    """Set a new password with the emailed token; every session of the account is signed out."""
    await customers.reset_password(session, request.app.state.cache, body.token, body.password,
                                   client_info(request))
    return Response(status_code=204)
