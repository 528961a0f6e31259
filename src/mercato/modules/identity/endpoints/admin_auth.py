"""/admin/auth and /admin/me: staff sign-in, refresh, sign-out."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_staff
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import audit, sessions, staff
from mercato.modules.identity.context import Actor
from mercato.modules.identity.endpoints.common import client_info, detached, per_ip_limit, settings_of, token_pair_out
from mercato.modules.identity.errors import InvalidToken, StaffNotFound
from mercato.modules.identity.models import StaffUser
from mercato.modules.identity.rules import normalise_email
from mercato.modules.identity.schemas import LoginIn, RefreshIn, StaffProfileOut, TokenPairOut
from mercato.modules.identity.signin import SignInRequest

router = APIRouter(tags=["admin: auth"], route_class=MercatoRoute)


@router.post("/admin/auth/login", response_model=TokenPairOut,
             dependencies=[Depends(per_ip_limit("rate_limit_login", "admin.login"))],
             responses=problem_responses(400, 401, 415, 422, 429))
async def staff_login(body: LoginIn, request: Request, session: AsyncSession = Depends(get_session)) -> TokenPairOut:
    """Sign a staff user in (`otp` required when two-factor authentication is on)."""
    pair = await staff.login(
        session, detached(request),
        SignInRequest(email=normalise_email(body.email), password=body.password, otp=body.otp,
                      client=client_info(request)),
        settings_of(request), request.app.state.keyring,
    )
    return token_pair_out(pair)


@router.post("/admin/auth/refresh", response_model=TokenPairOut, responses=problem_responses(400, 401, 415, 422))
async def staff_refresh(
    body: RefreshIn, request: Request, session: AsyncSession = Depends(get_session)
) -> TokenPairOut:
    """Trade a refresh token for a new pair; permissions are re-read, so role changes apply."""
    rotation = await sessions.rotate(session, detached(request), request.app.state.cache, body.refresh_token,
                                     client=client_info(request))
    if rotation.auth_session.subject_kind != staff.KIND:
        raise InvalidToken("Not a staff session.", code="auth.invalid_refresh_token")
    user = await session.get(StaffUser, rotation.auth_session.subject_id)
    if user is None or not user.is_active:
        raise InvalidToken("This staff account is disabled.", code="auth.account_disabled")
    permissions = await staff.token_permissions(session, user, settings_of(request))
    pair = sessions.issue_for(rotation.auth_session, rotation.refresh_token, permissions, settings_of(request),
                              request.app.state.keyring)
    return token_pair_out(pair)


@router.post("/admin/auth/logout", status_code=204, response_class=Response, responses=problem_responses(401, 403))
async def staff_logout(
    request: Request, principal: Principal = Depends(require_staff), session: AsyncSession = Depends(get_session)
) -> Response:
    assert principal.session_id is not None
    await sessions.revoke(session, request.app.state.cache, uuid.UUID(principal.session_id), reason="logout")
    await audit.record(session, "logout", actor=Actor("staff", principal.id), subject=("staff", principal.id),
                       client=client_info(request), details={"session_id": principal.session_id})
    return Response(status_code=204)


@router.get("/admin/me", response_model=StaffProfileOut, responses=problem_responses(401, 403))
async def staff_me(
    principal: Principal = Depends(require_staff), session: AsyncSession = Depends(get_session)
) -> StaffProfileOut:
    user = await session.get(StaffUser, uuid.UUID(principal.id))
    if user is None:
        raise StaffNotFound("No such staff user.")
    return StaffProfileOut(
        id=str(user.id), email=user.email, first_name=user.first_name, last_name=user.last_name,
        is_superuser=user.is_superuser, permissions=sorted(principal.permissions),
        mfa_enabled=user.mfa_enabled_at is not None,
    )
