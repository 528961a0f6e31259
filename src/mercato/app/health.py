"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from mercato.kit import outbox_admin
from mercato.kit.metrics import DB_POOL_CHECKED_OUT, DB_POOL_SIZE, OUTBOX_DEAD, OUTBOX_LAG, OUTBOX_PENDING, render

router = APIRouter(tags=["operations"])
_READY_TIMEOUT_S = 2.0


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    # Served by RequestContextMiddleware before routing; declared here for the OpenAPI document.
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and migrations are at head",
    responses={503: {"description": "Not ready"}},
)
async def readyz(request: Request) -> Response:
    expected: str | None = request.app.state.migration_head
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S):
            async with request.app.state.db.engine.connect() as conn:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
            status_code=503, headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )
    # A revision this code does not know was applied by a newer release during a rolling deploy:
    # migrations are additive (expand first, contract later), so this process can still serve.
    newer = current is not None and current not in request.app.state.known_revisions
    if current != expected and not newer:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": {"current": current, "head": expected}},
            status_code=503, headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": {"current": current, "head": expected}},
                        headers={"Cache-Control": "no-store"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    pool = request.app.state.db.engine.pool
    DB_POOL_CHECKED_OUT.set(pool.checkedout())
    DB_POOL_SIZE.set(pool.size())
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S):
            async with request.app.state.db.sessionmaker() as session:
                stats = await outbox_admin.stats(session)
        OUTBOX_PENDING.set(stats.pending)
        OUTBOX_DEAD.set(stats.dead)
        OUTBOX_LAG.set(stats.lag_seconds)
    except Exception:  # noqa: S110 - metrics must render even when the database is down
        pass
    body, content_type = render()
    return Response(body, media_type=content_type)
