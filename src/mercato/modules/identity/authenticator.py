"""Turns a bearer token into a Principal; installed on the app as `app.state.authenticator`.

Access tokens are verified without the database; only their session's revocation status is
looked up, through the cache. API keys are looked up by prefix (cached briefly).
"""

from __future__ import annotations

from typing import Any, Literal, cast

from mercato.kit.settings import Settings
from mercato.kit.web.auth import Principal
from mercato.modules.identity import api_keys, sessions
from mercato.modules.identity.errors import InvalidToken
from mercato.modules.identity.permissions import MFA_ENROLMENT_ONLY
from mercato.modules.identity.tokens import KeyRing


class TokenAuthenticator:
    def __init__(self, keyring: KeyRing, settings: Settings) -> None:
        self.keyring = keyring
        self.settings = settings

    async def __call__(self, request: Any, token: str) -> Principal:
        state = request.app.state
        if token.startswith(api_keys.PREFIX):
            key = await api_keys.verify(state.db.sessionmaker, state.cache, token, self.settings.session_cache_ttl_s)
            return Principal(kind="api_key", id=key.id, permissions=key.permissions)
        claims = self.keyring.verify(token)
        if claims.kind not in ("staff", "customer") or claims.session_id is None:
            raise InvalidToken()
        if not await sessions.session_is_active(state.db.sessionmaker, state.cache, claims.session_id,
                                                self.settings.session_cache_ttl_s):
            raise InvalidToken("This session has been signed out.", code="auth.session_revoked")
        kind = cast(Literal["staff", "customer"], claims.kind)
        restriction = "auth.mfa_enrollment_required" if claims.permissions == {MFA_ENROLMENT_ONLY} else None
        return Principal(kind=kind, id=claims.subject, permissions=claims.permissions, session_id=claims.session_id,
                         restriction=restriction)
