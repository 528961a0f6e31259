"""Side effects registered with after_commit run only when the request's transaction commits."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.db import after_commit
from mercato.kit.errors import Conflict
from mercato.kit.web.routing import MercatoRoute, get_session


def _mount(app: FastAPI, ran: list[str]) -> None:
    router = APIRouter(route_class=MercatoRoute)

    @router.post("/effects/{outcome}", status_code=201)
    async def effect(outcome: str, session: AsyncSession = Depends(get_session)) -> dict[str, str]:
        async def record() -> None:
            ran.append(outcome)

        async def broken() -> None:
            raise RuntimeError("cache down")

        after_commit(session, broken)
        after_commit(session, record)
        if outcome == "fail":
            raise Conflict("refused")
        return {"outcome": outcome}

    app.include_router(router)


async def test_callbacks_run_after_commit_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    ran: list[str] = []
    _mount(app, ran)
    assert (await client.post("/effects/fail")).status_code == 409
    assert ran == []
    ok = await client.post("/effects/ok")
    assert ok.status_code == 201, "a failing callback must not fail a committed request"
    assert ran == ["ok"]
