"""Admin view of the event outbox: list, inspect and retry dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit import outbox_admin
from mercato.kit.errors import NotFound
from mercato.kit.ids import parse_id
from mercato.kit.outbox import EventStatus, OutboxEvent
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session

router = APIRouter(prefix="/admin/outbox", tags=["admin: operations"], route_class=MercatoRoute)


class OutboxEventOut(BaseModel):
    id: str
    name: str
    status: str
    attempts: int
    last_error: str | None
    payload: dict[str, Any]
    created_at: datetime
    available_at: datetime
    processed_at: datetime | None


class OutboxEventList(BaseModel):
    items: list[OutboxEventOut]
    next_cursor: str | None


class OutboxStatsOut(BaseModel):
    pending: int
    dead: int
    lag_seconds: float


class RetryIn(BaseModel):
    event_ids: list[str] | None = Field(default=None, max_length=1000,
                                        description="Dead events to retry; omit to retry all")


class RetryOut(BaseModel):
    retried: int


def _out(event: OutboxEvent) -> OutboxEventOut:
    return OutboxEventOut(
        id=str(event.id), name=event.name, status=event.status, attempts=event.attempts,
        last_error=event.last_error, payload=event.payload, created_at=event.created_at,
        available_at=event.available_at, processed_at=event.processed_at,
    )


@router.get("/stats", response_model=OutboxStatsOut, responses=problem_responses(401, 403))
async def outbox_stats(
    _: Principal = Depends(require_permission("system:read")),
    session: AsyncSession = Depends(get_session),
) -> OutboxStatsOut:
    stats = await outbox_admin.stats(session)
    return OutboxStatsOut(pending=stats.pending, dead=stats.dead, lag_seconds=stats.lag_seconds)


@router.get("/events", response_model=OutboxEventList, responses=problem_responses(401, 403, 422))
async def list_events(
    # Inline values rather than a $ref to the enum's schema: a referenced schema in a query
    # parameter trips API tooling (schemathesis cannot resolve it once bundled).
    status: Literal["pending", "done", "dead"] | None = Query(default=None, description="pending, done or dead"),
    page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission("system:read")),
    session: AsyncSession = Depends(get_session),
) -> OutboxEventList:
    result = await outbox_admin.list_events(session, status=EventStatus(status) if status else None,
                                            limit=page.limit, cursor=page.cursor)
    return OutboxEventList(items=[_out(e) for e in result.items], next_cursor=result.next_cursor)


@router.get("/events/{event_id}", response_model=OutboxEventOut, responses=problem_responses(401, 403, 404))
async def get_event(
    event_id: str,
    _: Principal = Depends(require_permission("system:read")),
    session: AsyncSession = Depends(get_session),
) -> OutboxEventOut:
    parsed = parse_id(event_id)
    if parsed is None:
        raise NotFound("No such event.", code="outbox.event_not_found")
    return _out(await outbox_admin.get_event(session, parsed))


@router.post("/dead-letters/retry", response_model=RetryOut,
             responses=problem_responses(400, 401, 403, 415, 422))
async def retry_dead_letters(
    body: RetryIn,
    _: Principal = Depends(require_permission("system:manage")),
    session: AsyncSession = Depends(get_session),
) -> RetryOut:
    ids = None
    if body.event_ids is not None:
        ids = [i for i in (parse_id(raw) for raw in body.event_ids) if i is not None]
    return RetryOut(retried=await outbox_admin.retry(session, ids))
