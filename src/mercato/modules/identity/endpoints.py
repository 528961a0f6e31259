from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import service
from mercato.modules.identity.schemas import StaffLoginIn, TokenOut

admin = APIRouter(prefix="/admin/auth", tags=["admin: auth"], route_class=MercatoRoute)


@admin.post("/login", response_model=TokenOut, responses=problem_responses(400, 401, 415, 422, 429))
async def staff_login(
    body: StaffLoginIn, request: Request, session: AsyncSession = Depends(get_session)
) -> TokenOut:
    """Sign a staff user in; returns a short-lived bearer access token."""
    pair = await service.staff_login(
        session, email=body.email, password=body.password, secret=request.app.state.signing_secret,
        ttl=timedelta(seconds=request.app.state.settings.access_token_ttl_s),
    )
    return TokenOut(access_token=pair.access_token, expires_in=pair.expires_in)


routers = [admin]
