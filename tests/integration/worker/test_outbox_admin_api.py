"""/admin/outbox: stats, listing, inspection and retry of dead letters, behind system:* permissions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.ids import new_id
from mercato.kit.outbox import EventStatus, OutboxEvent
from mercato.kit.settings import Settings
from tests.fixtures.auth import staff_token_for

PROBLEM = "application/problem+json"


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


async def add_event(
    session: AsyncSession, status: EventStatus, *, name: str = "test.admin", attempts: int = 0,
    age: timedelta = timedelta(0), last_error: str | None = None,
) -> uuid.UUID:
    now = utcnow()
    event = OutboxEvent(
        id=new_id(), name=name, payload={"status": str(status)}, status=status, attempts=attempts,
        last_error=last_error, created_at=now - age, available_at=now - age,
        processed_at=now if status == EventStatus.DONE else None,
    )
    session.add(event)
    await session.flush()
    return event.id


@pytest.fixture
async def events(session: AsyncSession) -> dict[str, list[uuid.UUID]]:
    made: dict[str, list[uuid.UUID]] = {"pending": [], "done": [], "dead": []}
    made["pending"].append(await add_event(session, EventStatus.PENDING, age=timedelta(minutes=5)))
    made["pending"].append(await add_event(session, EventStatus.PENDING))
    made["done"].append(await add_event(session, EventStatus.DONE))
    for i in range(3):
        made["dead"].append(await add_event(session, EventStatus.DEAD, attempts=10, last_error=f"boom {i}"))
    await session.commit()
    return made


async def test_stats_counts_pending_and_dead_and_reports_lag(
    client: httpx.AsyncClient, staff_token: str, events: dict[str, list[uuid.UUID]]
) -> None:
    response = await client.get("/admin/outbox/stats", headers=auth(staff_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["pending"], body["dead"]) == (2, 3)
    assert 299 <= body["lag_seconds"] <= 400  # the oldest pending event is five minutes old


async def test_stats_of_an_empty_outbox(client: httpx.AsyncClient, staff_token: str) -> None:
    response = await client.get("/admin/outbox/stats", headers=auth(staff_token))
    assert response.status_code == 200, response.text
    assert response.json() == {"pending": 0, "dead": 0, "lag_seconds": 0.0}


async def test_list_filters_by_status_newest_first_with_keyset_pages(
    client: httpx.AsyncClient, staff_token: str, events: dict[str, list[uuid.UUID]]
) -> None:
    response = await client.get("/admin/outbox/events", params={"status": "dead", "limit": 2},
                                headers=auth(staff_token))
    assert response.status_code == 200, response.text
    first = response.json()
    assert [item["status"] for item in first["items"]] == ["dead", "dead"]
    assert first["next_cursor"]
    response = await client.get("/admin/outbox/events",
                                params={"status": "dead", "limit": 2, "cursor": first["next_cursor"]},
                                headers=auth(staff_token))
    second = response.json()
    assert second["next_cursor"] is None
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == [str(i) for i in reversed(events["dead"])]  # UUIDv7: newest first
    item = second["items"][0]
    assert item["attempts"] == 10
    assert item["last_error"] == "boom 0"
    assert item["name"] == "test.admin"
    assert item["payload"] == {"status": "dead"}

    everything = (await client.get("/admin/outbox/events", headers=auth(staff_token))).json()
    assert len(everything["items"]) == 6
    assert_problem(await client.get("/admin/outbox/events", params={"status": "stuck"},
                                    headers=auth(staff_token)), 422, "validation.invalid")


async def test_get_one_event_and_404_for_unknown_or_garbage_ids(
    client: httpx.AsyncClient, staff_token: str, events: dict[str, list[uuid.UUID]]
) -> None:
    event_id = events["done"][0]
    response = await client.get(f"/admin/outbox/events/{event_id}", headers=auth(staff_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(event_id)
    assert body["status"] == "done"
    assert body["processed_at"] is not None

    for unknown in (str(uuid.uuid4()), "not-a-uuid", "1"):
        assert_problem(await client.get(f"/admin/outbox/events/{unknown}", headers=auth(staff_token)),
                       404, "outbox.event_not_found")


async def test_retry_requeues_the_given_dead_letters_or_all_of_them(
    client: httpx.AsyncClient, staff_token: str, events: dict[str, list[uuid.UUID]], session: AsyncSession
) -> None:
    dead = events["dead"]
    response = await client.post(
        "/admin/outbox/dead-letters/retry",
        json={"event_ids": [str(dead[0]), str(events["done"][0]), "garbage", str(uuid.uuid4())]},
        headers=auth(staff_token),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"retried": 1}  # only the dead one; done, garbage and unknown ids are ignored

    rows = {
        e.id: e for e in (await session.execute(
            select(OutboxEvent).execution_options(populate_existing=True)
        )).scalars()
    }
    assert (rows[dead[0]].status, rows[dead[0]].attempts) == (EventStatus.PENDING, 0)
    assert rows[dead[0]].available_at <= utcnow()
    assert rows[dead[1]].status == EventStatus.DEAD
    assert rows[events["done"][0]].status == EventStatus.DONE

    response = await client.post("/admin/outbox/dead-letters/retry", json={}, headers=auth(staff_token))
    assert response.json() == {"retried": 2}
    stats = (await client.get("/admin/outbox/stats", headers=auth(staff_token))).json()
    assert (stats["pending"], stats["dead"]) == (5, 0)
    response = await client.post("/admin/outbox/dead-letters/retry", json={}, headers=auth(staff_token))
    assert response.json() == {"retried": 0}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/outbox/stats"),
        ("GET", "/admin/outbox/events?status=dead"),
        ("GET", f"/admin/outbox/events/{uuid.UUID(int=1)}"),
        ("POST", "/admin/outbox/dead-letters/retry"),
    ],
)
async def test_endpoints_need_a_token_with_the_permission(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    body: dict[str, object] | None = {} if method == "POST" else None
    response = await client.request(method, path, json=body)
    assert_problem(response, 401, "auth.unauthenticated")
    catalog_only = staff_token_for(settings, ["catalog:read"])
    assert_problem(await client.request(method, path, headers=auth(catalog_only), json=body),
                   403, "auth.forbidden")


async def test_read_permission_does_not_allow_retry(
    client: httpx.AsyncClient, settings: Settings, events: dict[str, list[uuid.UUID]]
) -> None:
    reader = staff_token_for(settings, ["system:read"])
    assert (await client.get("/admin/outbox/stats", headers=auth(reader))).status_code == 200
    response = await client.post("/admin/outbox/dead-letters/retry", json={}, headers=auth(reader))
    assert_problem(response, 403, "auth.forbidden")
    manager = staff_token_for(settings, ["system:manage"])
    response = await client.post("/admin/outbox/dead-letters/retry", json={}, headers=auth(manager))
    assert response.json() == {"retried": 3}
