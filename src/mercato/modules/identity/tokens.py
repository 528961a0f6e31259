"""Access tokens: HS256 JWTs with a `kid` naming the signing key, so keys can rotate: the current
key signs, earlier keys (MERCATO_PREVIOUS_SECRET_KEYS) still verify until their tokens expire.
The algorithm is pinned: `none` and algorithm confusion are refused before any verification."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from cachetools import LRUCache

from mercato.kit.clock import utcnow
from mercato.modules.identity.errors import InvalidToken

ALGORITHM = "HS256"
_VERIFIED_CACHE_S = 60.0
ISSUER = "mercato"


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    kind: str
    session_id: str | None
    permissions: frozenset[str]
    expires_at: float = 0.0


def key_id(secret: str) -> str:
    return hashlib.sha256(b"mercato-kid:" + secret.encode()).hexdigest()[:16]


class KeyRing:
    def __init__(self, current: str, previous: list[str] | None = None) -> None:
        self.current = current
        self.current_kid = key_id(current)
        self._by_kid = {key_id(secret): secret for secret in [*(previous or []), current]}
        self._verified: LRUCache[str, tuple[AccessClaims, float]] = LRUCache(maxsize=10_000)

    def issue(
        self, *, subject: str, kind: str, session_id: str | None, permissions: list[str], ttl: timedelta
    ) -> str:
        now = utcnow()
        claims: dict[str, object] = {
            "iss": ISSUER, "sub": subject, "typ": kind, "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()), "jti": uuid.uuid4().hex,
        }
        if session_id is not None:
            claims["sid"] = session_id
        if permissions:
            claims["perms"] = sorted(permissions)
        return jwt.encode(claims, self.current, algorithm=ALGORITHM, headers={"kid": self.current_kid})

    def verify(self, token: str) -> AccessClaims:
        """Check signature, algorithm, issuer and expiry. A token that verified once is remembered
        until it expires (at most a minute), so a client's repeated requests skip the HMAC and the
        JSON decoding; revocation is checked separately on every request."""
        cached = self._verified.get(token)
        if cached is not None:
            claims, expires = cached
            if expires > time.time():
                return claims
            self._verified.pop(token, None)
        claims = self._verify(token)
        self._verified[token] = (claims, min(claims.expires_at, time.time() + _VERIFIED_CACHE_S))
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            secret = self._by_kid.get(str(header.get("kid")))
            if header.get("alg") != ALGORITHM or secret is None:
                raise InvalidToken()
            claims = jwt.decode(
                token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        perms = claims.get("perms", [])
        sid = claims.get("sid")
        if not isinstance(perms, list) or (sid is not None and not isinstance(sid, str)):
            raise InvalidToken()
        return AccessClaims(str(claims["sub"]), str(claims.get("typ", "")), sid, frozenset(map(str, perms)),
                            float(claims["exp"]))


def issue_access_token(secret: str, *, subject: str, kind: str, permissions: list[str], ttl: timedelta,
                       session_id: str | None = None) -> str:
    """Sign with `secret` alone (tests and tools)."""
    return KeyRing(secret).issue(subject=subject, kind=kind, session_id=session_id, permissions=permissions,
                                 ttl=ttl)


def new_opaque_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """Stored form of an opaque token: these are high-entropy, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
