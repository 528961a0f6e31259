"""/store/me/mfa and /admin/me/mfa: TOTP enrolment, turning it off, new recovery codes.

The same four routes for customers and for staff. The staff ones need no permission beyond being
signed in: they are what a staff user holding the enrolment-only token (MERCATO_STAFF_REQUIRE_MFA)
may still use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_customer, require_staff
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import mfa
from mercato.modules.identity.endpoints.common import client_info, detached, settings_of
from mercato.modules.identity.errors import MfaRequiredByPolicy
from mercato.modules.identity.schemas import MfaCodeIn, MfaEnrolmentOut, MfaReauthIn, RecoveryCodesOut


def _router(prefix: str, kind: str, require: Callable[[Request], Awaitable[Principal]], tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag], route_class=MercatoRoute)

    @router.post("/totp", response_model=MfaEnrolmentOut, responses=problem_responses(401, 403, 404, 409))
    async def begin_totp(
        principal: Principal = Depends(require), session: AsyncSession = Depends(get_session),
    ) -> MfaEnrolmentOut:
        """Start enrolment: a new secret for the authenticator app (as text and as an otpauth:// URI
        for a QR code). Nothing changes until it is confirmed with a code; starting again replaces it."""
        holder = await mfa.load_holder(session, kind, principal.id)
        secret, uri = mfa.begin_enrolment(holder)
        return MfaEnrolmentOut(secret=secret, provisioning_uri=uri)

    @router.post("/totp/confirm", response_model=RecoveryCodesOut,
                 responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
    async def confirm_totp(
        body: MfaCodeIn, request: Request, principal: Principal = Depends(require),
        session: AsyncSession = Depends(get_session),
    ) -> RecoveryCodesOut:
        """Turn two-factor authentication on with a current code from the app. Returns 10 single-use
        recovery codes, shown only now. From the next sign-in on, `otp` is required."""
        holder = await mfa.load_holder(session, kind, principal.id)
        codes = await mfa.confirm(session, kind, holder, body.code, client_info(request))
        return RecoveryCodesOut(recovery_codes=codes)

    @router.delete("/totp", status_code=204, response_class=Response,
                   responses=problem_responses(400, 401, 403, 404, 409, 415, 422, 429))
    async def disable_totp(
        body: MfaReauthIn, request: Request, principal: Principal = Depends(require),
        session: AsyncSession = Depends(get_session),
    ) -> Response:
        """Turn two-factor authentication off; needs the password and a current code or a recovery
        code (wrong ones: 401 `auth.invalid_password` / `auth.invalid_otp`, throttled like sign-ins)."""
        settings = settings_of(request)
        if kind == "staff" and settings.staff_require_mfa:
            raise MfaRequiredByPolicy("Two-factor authentication is required for staff users.")
        await mfa.turn_off(session, detached(request), kind, principal.id, password=body.password,
                           code=body.code, settings=settings, client=client_info(request))
        return Response(status_code=204)

    @router.post("/recovery-codes", response_model=RecoveryCodesOut,
                 responses=problem_responses(400, 401, 403, 404, 409, 415, 422, 429))
    async def regenerate_recovery_codes(
        body: MfaReauthIn, request: Request, principal: Principal = Depends(require),
        session: AsyncSession = Depends(get_session),
    ) -> RecoveryCodesOut:
        """Replace all recovery codes (the old ones stop working); needs the password and a code."""
        codes = await mfa.regenerate_recovery_codes(
            session, detached(request), kind, principal.id, password=body.password, code=body.code,
            settings=settings_of(request), client=client_info(request),
        )
        return RecoveryCodesOut(recovery_codes=codes)

    return router


store_router = _router("/store/me/mfa", "customer", require_customer, "store: account")
admin_router = _router("/admin/me/mfa", "staff", require_staff, "admin: auth")
