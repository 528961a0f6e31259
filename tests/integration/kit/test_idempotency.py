"""Idempotency-Key over HTTP, with Stripe's semantics, against real PostgreSQL.

The endpoint under test records one outbox event per run, so "how many times did the work happen"
is a row count.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal

import httpx
import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response, StreamingResponse

from mercato.app import create_app
from mercato.kit import idempotency
from mercato.kit.clock import utcnow
from mercato.kit.db import Database
from mercato.kit.errors import Conflict, PaymentDeclined
from mercato.kit.idempotency import IdempotencyKey
from mercato.kit.outbox import OutboxEvent, emit
from mercato.kit.settings import Settings
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent

EVENT = "test.thing_created"
PROBLEM = "application/problem+json"
SessionDep = Annotated[AsyncSession, Depends(get_session)]


class ThingIn(BaseModel):
    name: str
    outcome: Literal["ok", "conflict_once", "decline", "crash"] = "ok"


@dataclass
class Endpoint:
    """Counts how often the handler body ran (whatever the database kept)."""

    delay_s: float = 0.0
    calls: list[str] = field(default_factory=list)

    def router(self) -> APIRouter:
        router = APIRouter(route_class=MercatoRoute)

        @router.post("/things", status_code=201)
        @idempotent
        async def create_thing(body: ThingIn, session: SessionDep) -> dict[str, str]:
            self.calls.append(body.name)
            event_id = await emit(session, {"name": body.name}, name=EVENT)
            await session.flush()  # the effect really reaches the database before any failure below
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if body.outcome == "conflict_once" and self.calls.count(body.name) == 1:
                raise Conflict("The thing is busy; retry.", code="thing.busy")
            if body.outcome == "decline":
                raise PaymentDeclined("The card was declined.", code="payment.card_declined")
            if body.outcome == "crash":
                raise RuntimeError("boom")
            return {"id": str(event_id)}

        @router.post("/things/redirect", status_code=303)
        @idempotent
        async def create_and_redirect(body: ThingIn, session: SessionDep) -> Response:
            self.calls.append(body.name)
            event_id = await emit(session, {"name": body.name}, name=EVENT)
            return RedirectResponse(f"/things/{event_id}", status_code=303)

        @router.post("/things/stream", status_code=200)
        @idempotent
        async def create_and_stream(body: ThingIn, session: SessionDep) -> Response:
            self.calls.append(body.name)
            await emit(session, {"name": body.name}, name=EVENT)

            async def chunks() -> AsyncIterator[bytes]:
                yield b"streamed"

            return StreamingResponse(chunks(), media_type="text/plain")

        return router


@pytest.fixture
def endpoint(app: FastAPI) -> Endpoint:
    ep = Endpoint()
    app.include_router(ep.router())
    return ep


def body(name: str = "widget", outcome: str = "ok") -> bytes:
    return orjson.dumps({"name": name, "outcome": outcome})


def headers(key: str | None, token: str | None = None) -> dict[str, str]:
    h = {"content-type": "application/json"}
    if key is not None:
        h["idempotency-key"] = key
    if token is not None:
        h["authorization"] = f"Bearer {token}"
    return h


async def post(
    client: httpx.AsyncClient, key: str | None, content: bytes, path: str = "/things", token: str | None = None
) -> httpx.Response:
    return await client.post(path, content=content, headers=headers(key, token))


async def effects(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).where(OutboxEvent.name == EVENT))).scalar_one())


async def key_row(session: AsyncSession, key: str, scope: str = "anonymous") -> IdempotencyKey | None:
    session.expire_all()
    return (
        await session.execute(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
    ).scalar_one_or_none()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    return problem


# ---- replay -------------------------------------------------------------------------------------


async def test_same_key_same_body_replays_and_runs_once(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    first = await post(client, "key-1", body())
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    thing_id = first.json()["id"]

    for _ in range(2):
        again = await post(client, "key-1", body())
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == {"id": thing_id}
        assert again.content == first.content
        assert again.headers["content-type"] == first.headers["content-type"]

    assert endpoint.calls == ["widget"]
    assert await effects(session) == 1
    row = await key_row(session, "key-1")
    assert row is not None
    assert row.response_status == 201
    assert row.locked_at is None
    assert row.expires_at > utcnow() + timedelta(hours=23)


async def test_same_key_different_body_is_422_and_changes_nothing(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    first = await post(client, "key-2", body("widget"))
    assert first.status_code == 201
    before = await key_row(session, "key-2")
    assert before is not None
    fingerprint = before.fingerprint

    assert_problem(await post(client, "key-2", body("gadget")), 422, "idempotency.mismatch")
    # The query string is part of the request too.
    assert_problem(await post(client, "key-2", body("widget"), path="/things?dry_run=1"), 422,
                   "idempotency.mismatch")

    assert endpoint.calls == ["widget"]
    assert await effects(session) == 1
    after = await key_row(session, "key-2")
    assert after is not None
    assert after.fingerprint == fingerprint
    assert after.response_status == 201
    # The original request still replays.
    replay = await post(client, "key-2", body("widget"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content


async def test_keys_are_scoped_to_the_caller(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession, staff_token: str
) -> None:
    anonymous = await post(client, "shared-key", body())
    staff = await post(client, "shared-key", body(), token=staff_token)
    assert anonymous.status_code == staff.status_code == 201
    assert "idempotent-replayed" not in staff.headers
    assert anonymous.json() != staff.json()
    assert await effects(session) == 2
    staff_again = await post(client, "shared-key", body(), token=staff_token)
    assert staff_again.headers["idempotent-replayed"] == "true"
    assert staff_again.json() == staff.json()


# ---- key validation and absence -----------------------------------------------------------------


async def test_key_longer_than_255_is_400(client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession) -> None:
    assert_problem(await post(client, "k" * 256, body()), 400, "idempotency.invalid_key")
    assert_problem(await post(client, "", body()), 400, "idempotency.invalid_key")
    assert endpoint.calls == []
    assert await effects(session) == 0

    longest = await post(client, "k" * 255, body())
    assert longest.status_code == 201
    assert await key_row(session, "k" * 255) is not None


async def test_without_a_key_every_request_runs(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    keys_before = (await session.execute(select(func.count()).select_from(IdempotencyKey))).scalar_one()
    first, second = await post(client, None, body()), await post(client, None, body())
    assert first.status_code == second.status_code == 201
    assert first.json() != second.json()
    assert "idempotent-replayed" not in second.headers
    assert endpoint.calls == ["widget", "widget"]
    assert await effects(session) == 2
    keys_after = (await session.execute(select(func.count()).select_from(IdempotencyKey))).scalar_one()
    assert keys_after == keys_before


# ---- failures -----------------------------------------------------------------------------------


async def test_domain_error_releases_the_key(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    failed = await post(client, "key-3", body("busy", "conflict_once"))
    assert_problem(failed, 409, "thing.busy")
    assert await effects(session) == 0  # the flushed event was rolled back
    assert await key_row(session, "key-3") is None

    retry = await post(client, "key-3", body("busy", "conflict_once"))
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert endpoint.calls == ["busy", "busy"]
    assert await effects(session) == 1


async def test_payment_declined_is_stored_and_replayed(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    declined = await post(client, "key-4", body("card", "decline"))
    problem = assert_problem(declined, 402, "payment.card_declined")
    assert "idempotent-replayed" not in declined.headers
    assert await effects(session) == 0  # a decline keeps no changes ...
    row = await key_row(session, "key-4")
    assert row is not None
    assert row.response_status == 402  # ... but its answer is kept

    replay = await post(client, "key-4", body("card", "decline"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert_problem(replay, 402, "payment.card_declined")
    assert replay.json() == problem
    assert endpoint.calls == ["card"]
    assert await effects(session) == 0


async def test_unexpected_error_releases_the_key(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    crashed = await post(client, "key-5", body("x", "crash"))
    assert_problem(crashed, 500, "internal_error")
    assert await key_row(session, "key-5") is None
    assert await effects(session) == 0
    assert (await post(client, "key-5", body("x", "crash"))).status_code == 500
    assert endpoint.calls == ["x", "x"]  # the retry ran again instead of answering 409


async def test_invalid_body_releases_the_key(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    invalid = await post(client, "key-6", orjson.dumps({"name": 5}))
    assert_problem(invalid, 422, "validation.invalid")
    assert await key_row(session, "key-6") is None
    fixed = await post(client, "key-6", body())
    assert fixed.status_code == 201, fixed.text
    assert await effects(session) == 1


async def test_redirect_answer_commits_and_replays(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    first = await post(client, "key-7", body(), path="/things/redirect")
    assert first.status_code == 303
    assert await effects(session) == 1  # a 3xx is a success: its work is committed
    again = await post(client, "key-7", body(), path="/things/redirect")
    assert again.status_code == 303
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert endpoint.calls == ["widget"]
    assert await effects(session) == 1


async def test_streamed_success_is_committed(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    response = await post(client, "key-8", body(), path="/things/stream")
    assert response.status_code == 200
    assert response.content == b"streamed"
    assert await effects(session) == 1


# ---- locks, expiry and purge --------------------------------------------------------------------


async def _insert_key(
    session: AsyncSession,
    key: str,
    *,
    content: bytes,
    locked_ago: timedelta | None,
    expires_in: timedelta = timedelta(hours=1),
    path: str = "/things",
    response_status: int | None = None,
) -> None:
    now = utcnow()
    session.add(
        IdempotencyKey(
            scope="anonymous", key=key, fingerprint=idempotency.fingerprint("POST", path, content),
            locked_at=None if locked_ago is None else now - locked_ago,
            response_status=response_status,
            response_headers={"content-type": "application/json"} if response_status else None,
            response_body=b'{"id": "old"}' if response_status else None,
            created_at=now - timedelta(days=2), expires_at=now + expires_in,
        )
    )
    await session.commit()


async def test_a_request_in_progress_is_409(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    await _insert_key(session, "held", content=body(), locked_ago=timedelta(seconds=1))
    assert_problem(await post(client, "held", body()), 409, "idempotency.in_progress")
    assert endpoint.calls == []
    assert await effects(session) == 0


async def test_a_stale_lock_is_taken_over(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession, settings: Settings
) -> None:
    stale = timedelta(seconds=settings.idempotency_lock_timeout_s + 5)
    await _insert_key(session, "orphan", content=body(), locked_ago=stale)
    retry = await post(client, "orphan", body())
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert endpoint.calls == ["widget"]
    assert await effects(session) == 1
    row = await key_row(session, "orphan")
    assert row is not None
    assert row.response_status == 201
    assert row.locked_at is None
    # ... and is now an ordinary completed key.
    assert (await post(client, "orphan", body())).headers["idempotent-replayed"] == "true"


async def test_an_expired_key_is_free_again(
    client: httpx.AsyncClient, endpoint: Endpoint, session: AsyncSession
) -> None:
    await _insert_key(session, "old-key", content=body("before"), locked_ago=None,
                      expires_in=-timedelta(minutes=1), response_status=201)
    reused = await post(client, "old-key", body("after"))  # a different body: no mismatch, no replay
    assert reused.status_code == 201, reused.text
    assert "idempotent-replayed" not in reused.headers
    assert reused.json() != {"id": "old"}
    assert endpoint.calls == ["after"]
    row = await key_row(session, "old-key")
    assert row is not None
    assert row.expires_at > utcnow()


async def test_purge_deletes_only_expired_keys(session: AsyncSession) -> None:
    expired_before = (
        await session.execute(select(func.count()).where(IdempotencyKey.expires_at < utcnow()))
    ).scalar_one()
    for name, expires_in in [("gone-1", -timedelta(seconds=1)), ("gone-2", -timedelta(days=3)),
                             ("gone-3", -timedelta(hours=1)), ("kept-1", timedelta(minutes=1)),
                             ("kept-2", timedelta(days=1))]:
        await _insert_key(session, name, content=b"{}", locked_ago=None, expires_in=expires_in, response_status=201)

    assert await idempotency.purge_expired(session, batch=2) == 2  # bounded batches
    assert await idempotency.purge_expired(session) == expired_before + 1
    assert await idempotency.purge_expired(session) == 0
    for name in ("gone-1", "gone-2", "gone-3"):
        assert await key_row(session, name) is None
    for name in ("kept-1", "kept-2"):
        assert await key_row(session, name) is not None


# ---- real concurrency (committed database, real pool) -------------------------------------------


async def test_concurrent_duplicates_run_once(settings: Settings, fresh_database: Callable[[], str]) -> None:
    db = Database.connect(fresh_database(), settings)
    app = create_app(settings, database=db)
    slow = Endpoint(delay_s=0.5)
    app.include_router(slow.router())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(*(post(client, "race", body("raced")) for _ in range(5)))
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
            for response in responses:
                if response.status_code == 409:
                    assert_problem(response, 409, "idempotency.in_progress")
            (winner,) = [r for r in responses if r.status_code == 201]

            async with db.sessionmaker() as check:
                assert await effects(check) == 1
            assert slow.calls == ["raced"]

            later = await post(client, "race", body("raced"))
            assert later.status_code == 201
            assert later.headers["idempotent-replayed"] == "true"
            assert later.json() == winner.json()
            async with db.sessionmaker() as check:
                assert await effects(check) == 1
                row = await key_row(check, "race")
                assert row is not None
                assert row.response_status == 201
    finally:
        await db.dispose()
