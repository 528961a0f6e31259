"""Turns a bearer token into a Principal; installed on the app as `app.state.authenticator`."""

from __future__ import annotations

from typing import Any, Literal, cast

from mercato.kit.web.auth import Principal
from mercato.modules.identity.errors import InvalidToken
from mercato.modules.identity.tokens import verify_access_token


class TokenAuthenticator:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def __call__(self, request: Any, token: str) -> Principal:
        claims = verify_access_token(self.secret, token)
        if claims.kind not in ("staff", "customer"):
            raise InvalidToken()
        kind = cast(Literal["staff", "customer"], claims.kind)
        return Principal(kind=kind, id=claims.subject, permissions=claims.permissions)
