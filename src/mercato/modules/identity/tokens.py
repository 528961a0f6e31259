"""Short-lived access tokens: HS256 JWTs with a `kid`, algorithm pinned (no `none`, no confusion)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from mercato.kit.clock import utcnow
from mercato.modules.identity.errors import InvalidToken

ALGORITHM = "HS256"
ISSUER = "mercato"


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    kind: str
    permissions: frozenset[str]


def key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def issue_access_token(secret: str, *, subject: str, kind: str, permissions: list[str], ttl: timedelta) -> str:
    now = utcnow()
    claims = {
        "iss": ISSUER, "sub": subject, "typ": kind, "perms": sorted(permissions),
        "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()), "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": key_id(secret)})


def verify_access_token(secret: str, token: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM or header.get("kid") != key_id(secret):
            raise InvalidToken()
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken() from exc
    perms = claims.get("perms", [])
    if not isinstance(perms, list):
        raise InvalidToken()
    return AccessClaims(str(claims["sub"]), str(claims.get("typ", "")), frozenset(map(str, perms)))
