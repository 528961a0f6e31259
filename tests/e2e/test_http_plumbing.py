"""Request ids, security headers, CORS and GZip on the ASGI app."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"x-request-id": "order-42.retry:1"})
    assert echoed.headers["x-request-id"] == "order-42.retry:1"
    generated = await client.get("/readyz")
    assert len(generated.headers["x-request-id"]) == 24
    hostile = await client.get("/readyz", headers={"x-request-id": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"
    probe = await client.get("/healthz")
    assert "x-request-id" not in probe.headers, "liveness probes get an id back only when they send one"


async def test_security_headers_on_success_and_error(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/readyz"), await client.get("/missing")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers  # only in production


async def test_head_healthz_has_no_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""


@pytest.fixture
async def cors_client(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]
) -> httpx.AsyncClient:
    configured = settings.model_copy(update={"cors_origins": ["https://shop.example"], "env": "production"})
    app = create_app(configured, database=Database(engine_db.engine, sessionmaker))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_cors_allows_only_configured_origins(cors_client: httpx.AsyncClient) -> None:
    async with cors_client as client:
        preflight = await client.options(
            "/admin/auth/login",
            headers={"origin": "https://shop.example", "access-control-request-method": "POST",
                     "access-control-request-headers": "content-type,idempotency-key"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
        stranger = await client.get("/readyz", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers
        friend = await client.get("/readyz", headers={"origin": "https://shop.example"})
        assert friend.headers["access-control-allow-origin"] == "https://shop.example"
        assert "max-age=63072000" in friend.headers["strict-transport-security"]


async def test_large_responses_are_gzipped(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["info"]["title"] == "Mercato"
