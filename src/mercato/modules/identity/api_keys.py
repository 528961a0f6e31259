"""API keys for integrations: `mk_<prefix>_<secret>`, shown once, stored as a digest; the prefix
stays visible so staff can tell keys apart. A key holds a subset of its creator's permissions."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, InvalidInput, PermissionDenied
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.identity import audit
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.errors import ApiKeyNotFound, InvalidToken
from mercato.modules.identity.models import ApiKey, StaffUser
from mercato.modules.identity.permissions import holds_all, validated
from mercato.modules.identity.tokens import digest, same

PREFIX = "mk_"
_LAST_USED_EVERY_S = 60
# Cached in place of a revoked key's record: reads as "unknown or revoked".
_TOMBSTONE = orjson.dumps(None)


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
    granted = validated(permissions)
    if not holds_all(creator_permissions, set(granted)):
        raise PermissionDenied("An API key can only hold permissions you hold yourself.",
                               code="api_key.permission_escalation")
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise InvalidInput("The expiry must be a time in the future, with its UTC offset.",
                           errors=[FieldError("expires_at", "past", "Must be in the future.")])
    created_by = None
    if creator.kind == "staff" and creator.id:
        # A valid token of a staff row that is gone would otherwise be a foreign-key 500.
        staff_user = await session.get(StaffUser, uuid.UUID(creator.id))
        if staff_user is None or not staff_user.is_active:
            raise InvalidToken("This staff account is disabled.", code="auth.account_disabled")
        created_by = staff_user.id
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(id=new_id(), prefix=prefix, secret_hash=digest(secret), name=name.strip(), permissions=granted,
                 created_by=created_by, created_at=utcnow(), expires_at=expires_at)
    session.add(key)
    await session.flush()
    await audit.record(session, "api_key.created", actor=creator, subject=("api_key", str(key.id)), client=client,
                       details={"name": key.name, "prefix": prefix, "permissions": granted,
                                "expires_at": expires_at.isoformat() if expires_at else None})
    return key, f"{PREFIX}{prefix}_{secret}"


async def get(session: AsyncSession, key_id: str | uuid.UUID, *, lock: bool = False) -> ApiKey:
    parsed = key_id if isinstance(key_id, uuid.UUID) else parse_id(key_id)
    key = None if parsed is None else await session.get(ApiKey, parsed, with_for_update=lock)
    if key is None:
        raise ApiKeyNotFound("No such API key.")
    return key


async def revoke(session: AsyncSession, cache: Cache, key_id: str | uuid.UUID, *, actor: Actor,
                 client: ClientInfo) -> ApiKey:
    """Revoke at once: the cache entry becomes a tombstone (not merely dropped, which would let a
    look-up racing this transaction cache the key as still valid)."""
    key = await get(session, key_id, lock=True)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await audit.record(session, "api_key.revoked", actor=actor, subject=("api_key", str(key.id)), client=client,
                           details={"prefix": key.prefix, "name": key.name})
    await session.flush()
    await cache.set(f"auth:apikey:{key.prefix}", _TOMBSTONE, ttl_s=3600)
    return key


async def verify(factory: async_sessionmaker[AsyncSession], cache: Cache, raw: str, cache_ttl_s: int) -> VerifiedKey:
    """Authenticate a presented key (cached briefly; revocation overwrites the cache entry)."""
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


async def list_keys(session: AsyncSession, *, limit: int, cursor: str | None,
                    include_revoked: bool = True) -> Page[ApiKey]:
    stmt: Select[Any] = select(ApiKey)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    keys = [SortKey(ApiKey.created_at, descending=True), SortKey(ApiKey.id, descending=True)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)
