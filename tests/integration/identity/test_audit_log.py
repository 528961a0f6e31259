"""The audit log: its admin search, the append-only trigger, retention and the identity sweeps."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.jobs import registered_jobs
from mercato.kit.settings import Settings
from mercato.modules.identity import audit, tasks
from mercato.modules.identity.context import Actor, ClientInfo
from mercato.modules.identity.models import AuditEntry, AuthSession, LoginThrottle, OneTimeToken, RefreshToken
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer


def entry(event: str, at: datetime, **fields: str) -> AuditEntry:
    return AuditEntry(id=uuid.uuid4(), occurred_at=at, event=event, details={}, **fields)


async def test_search_filters_and_pages_newest_first(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    now = utcnow()
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        entry("login.succeeded", now - timedelta(minutes=50), actor_kind="staff", actor_id=alice,
              subject_kind="staff", subject_id=alice),
        entry("login.failed", now - timedelta(minutes=40), actor_kind="anonymous", subject_kind="staff",
              subject_id=alice),
        entry("role.created", now - timedelta(minutes=30), actor_kind="staff", actor_id=alice,
              subject_kind="role", subject_id="r1"),
        entry("login.succeeded", now - timedelta(minutes=20), actor_kind="customer", actor_id=bob,
              subject_kind="customer", subject_id=bob),
        entry("api_key.created", now - timedelta(minutes=10), actor_kind="api_key", actor_id="k1",
              subject_kind="api_key", subject_id="k2"),
    ]
    session.add_all(rows)
    await session.commit()
    token = staff_token_for(settings, ["audit:read"])

    async def events(**params: str) -> list[str]:
        response = await client.get("/admin/audit-log", params={"limit": "100", **params}, headers=bearer(token))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    ids = [str(row.id) for row in rows]
    since = (now - timedelta(hours=1)).isoformat()
    assert await events(since=since) == list(reversed(ids))
    assert await events(since=since, event="login.succeeded") == [ids[3], ids[0]]
    assert await events(since=since, actor_kind="staff") == [ids[2], ids[0]]
    assert await events(actor_kind="staff", actor_id=alice) == [ids[2], ids[0]]
    assert await events(subject_kind="staff", subject_id=alice) == [ids[1], ids[0]]
    assert await events(subject_kind="role", subject_id="r1") == [ids[2]]
    assert await events(since=(now - timedelta(minutes=35)).isoformat(),
                        until=(now - timedelta(minutes=10)).isoformat()) == [ids[3], ids[2]]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", "since": since, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/admin/audit-log", params=params, headers=bearer(token))).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == list(reversed(ids))


@pytest.mark.parametrize(
    "params",
    [{"actor_id": "x"}, {"subject_id": "x"}, {"since": "2025-01-01T00:00:00"}, {"limit": "101"},
     {"cursor": "not-a-cursor"}],
)
async def test_bad_filters_are_422(client: httpx.AsyncClient, staff_token: str, params: dict[str, str]) -> None:
    response = await client.get("/admin/audit-log", params=params, headers=bearer(staff_token))
    assert response.status_code == 422


async def test_entries_carry_who_from_where_and_what(
    client: httpx.AsyncClient, superuser: tuple[str, str], staff_token: str
) -> None:
    email, password = superuser
    signed_in = await client.post("/admin/auth/login", json={"email": email, "password": password},
                                  headers={"user-agent": "AuditTest/1.0"})
    assert signed_in.status_code == 200
    failed = await client.post("/admin/auth/login", json={"email": email, "password": "wrong password!"},
                               headers={"user-agent": "Intruder/6.6"})
    assert failed.status_code == 401
    items = (await client.get("/admin/audit-log", params={"subject_kind": "staff"},
                              headers=bearer(staff_token))).json()["items"]
    by_event = {item["event"]: item for item in items}
    ok = by_event["login.succeeded"]
    assert ok["actor"] == ok["subject"]
    assert ok["actor"]["kind"] == "staff"
    assert ok["ip"] == "127.0.0.1"
    assert ok["user_agent"] == "AuditTest/1.0"
    assert "session_id" in ok["details"]
    assert datetime.fromisoformat(ok["occurred_at"]).tzinfo is not None
    bad = by_event["login.failed"]
    assert bad["actor"] == {"kind": "anonymous", "id": None}
    assert bad["user_agent"] == "Intruder/6.6"
    assert bad["details"] == {"reason": "password", "known_account": True}


async def test_the_log_is_append_only(session: AsyncSession) -> None:
    await audit.record(session, "logout", actor=Actor("staff", "s1"),
                       client=ClientInfo(ip="10.0.0.1", user_agent="ua"))
    await session.flush()
    for statement in (update(AuditEntry).values(event="login.succeeded"), delete(AuditEntry),
                      text("UPDATE audit_log SET details = '{}'::jsonb"), text("DELETE FROM audit_log")):
        with pytest.raises(DBAPIError) as raised:
            async with session.begin_nested():
                await session.execute(statement)
        assert "append-only" in str(raised.value)
    assert await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor_id == "s1")) == 1


async def test_retention_purge_deletes_only_old_entries_and_closes_behind_itself(session: AsyncSession) -> None:
    now = utcnow()
    old = [entry("logout", now - timedelta(days=400)), entry("logout", now - timedelta(days=366))]
    recent = [entry("logout", now - timedelta(days=364)), entry("logout", now)]
    session.add_all(old + recent)
    await session.flush()
    assert await tasks.purge_audit_log(session) == len(old)
    remaining = set((await session.execute(select(AuditEntry.id))).scalars())
    assert {row.id for row in recent} <= remaining
    assert not {row.id for row in old} & remaining
    # The purge switch is off again: the rest of the transaction cannot delete entries.
    with pytest.raises(DBAPIError):
        async with session.begin_nested():
            await session.execute(delete(AuditEntry))
    assert await audit.purge_older_than(session, timedelta(days=1)) == 1  # the 364-day-old one


def test_the_jobs_are_registered() -> None:
    jobs = {job.name: job for job in registered_jobs()}
    assert jobs["identity.purge_audit_log"].every == timedelta(days=1)
    assert jobs["identity.purge_audit_log"].func is tasks.purge_audit_log
    assert jobs["identity.purge_expired_tokens"].func is tasks.purge_expired_tokens


def auth_session(now: datetime, *, revoked: datetime | None = None, idle: timedelta = timedelta(hours=1),
                 absolute: timedelta = timedelta(days=1)) -> AuthSession:
    return AuthSession(id=uuid.uuid4(), subject_kind="customer", subject_id=uuid.uuid4(), created_at=now - absolute,
                       last_seen_at=now, idle_expires_at=now + idle, absolute_expires_at=now + absolute,
                       revoked_at=revoked)


async def test_the_token_sweep_deletes_only_what_can_never_be_used_again(session: AsyncSession) -> None:
    now = utcnow()

    def one_time(*, used: bool = False, expires: timedelta = timedelta(hours=1)) -> OneTimeToken:
        return OneTimeToken(token_hash=uuid.uuid4().hex, purpose="verify_email", subject_kind="customer",
                            subject_id=uuid.uuid4(), created_at=now - timedelta(hours=2), expires_at=now + expires,
                            used_at=now if used else None)

    live_token, used_token, expired_token = one_time(), one_time(used=True), one_time(expires=-timedelta(seconds=1))
    live = auth_session(now)
    revoked = auth_session(now, revoked=now - timedelta(minutes=1))
    idle_out = auth_session(now, idle=-timedelta(minutes=1))
    long_gone = auth_session(now - timedelta(days=40), revoked=now - timedelta(days=40))
    session.add_all([live_token, used_token, expired_token, live, revoked, idle_out, long_gone])
    await session.flush()

    def refresh(auth: AuthSession, *, used: bool) -> RefreshToken:
        return RefreshToken(token_hash=uuid.uuid4().hex, session_id=auth.id, issued_at=now,
                            used_at=now if used else None)

    live_spent, live_current = refresh(live, used=True), refresh(live, used=False)
    dead = [refresh(revoked, used=False), refresh(idle_out, used=True), refresh(long_gone, used=False)]
    session.add_all([live_spent, live_current, *dead])

    def throttle(key: str, last: timedelta, blocked: timedelta | None = None) -> LoginThrottle:
        return LoginThrottle(key=key, failures=3, last_failure_at=now - last,
                             blocked_until=now + blocked if blocked is not None else None)

    session.add_all([throttle("stale", timedelta(days=2)), throttle("fresh", timedelta(hours=2)),
                     throttle("locked", timedelta(days=2), blocked=timedelta(minutes=5))])
    await session.flush()

    result = await tasks.purge_expired_tokens(session)
    assert result["one_time_tokens"] >= 2
    assert result["refresh_tokens"] >= 3
    assert result["sessions"] >= 1
    assert result["login_throttles"] >= 1

    session.expunge_all()
    one_time_left = set((await session.execute(select(OneTimeToken.token_hash))).scalars())
    assert live_token.token_hash in one_time_left
    assert not {used_token.token_hash, expired_token.token_hash} & one_time_left
    refresh_left = set((await session.execute(select(RefreshToken.token_hash))).scalars())
    # A live session keeps its spent tokens: presenting one again is how theft is detected.
    assert {live_spent.token_hash, live_current.token_hash} <= refresh_left
    assert not {token.token_hash for token in dead} & refresh_left
    sessions_left = set((await session.execute(select(AuthSession.id))).scalars())
    assert {live.id, revoked.id, idle_out.id} <= sessions_left
    assert long_gone.id not in sessions_left
    throttles_left = set((await session.execute(select(LoginThrottle.key))).scalars())
    assert {"fresh", "locked"} <= throttles_left
    assert "stale" not in throttles_left
