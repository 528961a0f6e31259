"""API keys for integrations: `mk_<prefix>_<secret>`, shown once, stored as a digest; the prefix
stays visible so staff can tell keys apart. A key holds a subset of its creator's permissions."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, InvalidInput, PermissionDenied
from mercato.modules.identity import audit
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import ApiKeyNotFound, InvalidToken
from mercato.modules.identity.models import ApiKey
from mercato.modules.identity.permissions import holds_all, unknown_permissions
from mercato.modules.identity.tokens import digest, same

PREFIX = "mk_"
_LAST_USED_EVERY_S = 60


@dataclass(frozen=True)
class VerifiedKey:
    id: str
    permissions: frozenset[str]


def _split(raw: str) -> tuple[str, str] | None:
    if not raw.startswith(PREFIX):
        return None
    prefix, sep, secret = raw[len(PREFIX):].partition("_")
    if not sep or len(prefix) != 8 or not secret:
        return None
    return prefix, secret


async def create(
    session: AsyncSession, *, name: str, permissions: set[str], expires_at: datetime | None,
    creator: Actor, creator_permissions: frozenset[str], client: ClientInfo,
) -> tuple[ApiKey, str]:
    unknown = unknown_permissions(permissions)
    if unknown:
        raise InvalidInput("Unknown permissions.", code="api_key.unknown_permission",
                           errors=[FieldError("permissions", "unknown", ", ".join(sorted(unknown)))])
    if not holds_all(creator_permissions, permissions):
        raise PermissionDenied("An API key can only hold permissions you hold yourself.",
                               code="api_key.permission_escalation")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("The expiry must be in the future.",
                           errors=[FieldError("expires_at", "past", "Must be in the future.")])
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(prefix=prefix, secret_hash=digest(secret), name=name, permissions=sorted(permissions),
                 created_by=uuid.UUID(creator.id) if creator.kind == "staff" and creator.id else None,
                 created_at=utcnow(), expires_at=expires_at)
    session.add(key)
    await session.flush()
    await audit.record(session, "api_key.created", actor=creator, subject=("api_key", str(key.id)), client=client,
                       details={"name": name, "prefix": prefix, "permissions": sorted(permissions)})
    return key, f"{PREFIX}{prefix}_{secret}"


async def revoke(session: AsyncSession, cache: Cache, key_id: uuid.UUID, *, actor: Actor, client: ClientInfo) -> ApiKey:
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None:
        raise ApiKeyNotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await audit.record(session, "api_key.revoked", actor=actor, subject=("api_key", str(key.id)), client=client,
                           details={"prefix": key.prefix})
    await cache.delete(f"auth:apikey:{key.prefix}")
    return key


async def verify(factory: async_sessionmaker[AsyncSession], cache: Cache, raw: str, cache_ttl_s: int) -> VerifiedKey:
    """Authenticate a presented key (cached briefly; revocation clears the cache entry)."""
    parts = _split(raw)
    if parts is None:
        raise InvalidToken("Malformed API key.", code="auth.invalid_api_key")
    prefix, secret = parts
    cache_key = f"auth:apikey:{prefix}"
    cached = await cache.get(cache_key)
    if cached is not None:
        record = orjson.loads(cached)
    else:
        async with factory() as session:
            key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        record = None if key is None else {
            "id": str(key.id), "hash": key.secret_hash, "perms": key.permissions,
            "expires": key.expires_at.isoformat() if key.expires_at else None, "revoked": key.revoked_at is not None,
        }
        if cache_ttl_s > 0:
            await cache.set(cache_key, orjson.dumps(record), ttl_s=cache_ttl_s)
    if record is None or record["revoked"] or not same(record["hash"], digest(secret)):
        raise InvalidToken("Unknown or revoked API key.", code="auth.invalid_api_key")
    if record["expires"] and datetime.fromisoformat(record["expires"]) <= utcnow():
        raise InvalidToken("This API key has expired.", code="auth.api_key_expired")
    await _touch(factory, cache, record["id"])
    return VerifiedKey(record["id"], frozenset(record["perms"]))


async def _touch(factory: async_sessionmaker[AsyncSession], cache: Cache, key_id: str) -> None:
    """Record last use at most once a minute per key, not on every request."""
    marker = f"auth:apikey-used:{key_id}"
    if await cache.get(marker) is not None:
        return
    await cache.set(marker, b"1", ttl_s=_LAST_USED_EVERY_S)
    async with factory() as session, session.begin():
        key = await session.get(ApiKey, uuid.UUID(key_id))
        if key is not None:
            key.last_used_at = utcnow()


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(ApiKey.created_at.desc()).limit(500))).scalars())
