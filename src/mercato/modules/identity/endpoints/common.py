"""Helpers shared by the identity routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.kit.logging import request_id_var
from mercato.kit.settings import Settings
from mercato.modules.identity.context import ClientInfo
from mercato.modules.identity.models import AuthSession
from mercato.modules.identity.schemas import SessionOut, TokenPairOut
from mercato.modules.identity.sessions import TokenPair


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=request_id_var.get() or None,
    )


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def detached(request: Request) -> async_sessionmaker[AsyncSession]:
    """Sessions outside the request's transaction, for records that must survive its rollback."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.db.sessionmaker
    return factory


def per_ip_limit(rule_setting: str, bucket: str) -> Callable[[Request], Awaitable[None]]:
    """FastAPI dependency: at most the configured rate per client IP for this endpoint (429)."""

    async def dependency(request: Request) -> None:
        rule = getattr(settings_of(request), rule_setting)
        ip = request.client.host if request.client else "unknown"
        await request.app.state.rate_limiter.enforce(rule, bucket, ip)

    return dependency


def token_pair_out(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(access_token=pair.access_token, refresh_token=pair.refresh_token,
                        expires_in=pair.expires_in)


def session_out(row: AuthSession, current: str | None) -> SessionOut:
    return SessionOut(
        id=str(row.id), created_at=row.created_at, last_seen_at=row.last_seen_at,
        expires_at=min(row.idle_expires_at, row.absolute_expires_at), ip=str(row.ip) if row.ip else None,
        user_agent=row.user_agent, current=str(row.id) == current,
    )
