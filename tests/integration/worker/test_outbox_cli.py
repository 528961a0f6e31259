"""`mercato outbox stats|list|dead|retry` and `mercato worker --once` as real subprocesses."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from mercato.kit.clock import utcnow
from mercato.kit.ids import new_id
from tests.fixtures.event_handlers import CRASH_EVENT, CRASH_HANDLER, CRASH_TABLES_DDL
from tests.fixtures.processes import process_env

pytestmark = pytest.mark.slow


def mercato(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mercato", *args], env=process_env(url, COLUMNS="250", **env),
        capture_output=True, text=True, timeout=60, check=False,
    )


def query(url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def add_event(url: str, status: str, *, attempts: int, last_error: str | None) -> uuid.UUID:
    event_id = new_id()
    query(
        url,
        "INSERT INTO outbox_events (id, name, payload, status, attempts, last_error, created_at, available_at,"
        " processed_at) VALUES (%(id)s, %(name)s, '{}', %(status)s, %(attempts)s, %(error)s, now(), now(),"
        " %(processed_at)s)",
        {"id": event_id, "name": CRASH_EVENT, "status": status, "attempts": attempts, "error": last_error,
         "processed_at": utcnow() if status == "done" else None},
    )
    return event_id


def test_outbox_commands_inspect_and_redrive_a_dead_letter(fresh_database: Callable[[], str]) -> None:
    url = fresh_database()
    for ddl in CRASH_TABLES_DDL:
        query(url, ddl)
    dead = add_event(url, "dead", attempts=10, last_error="handler: RuntimeError: exploded")
    done = add_event(url, "done", attempts=0, last_error=None)

    stats = mercato(url, "outbox", "stats")
    assert stats.returncode == 0, stats.stderr
    assert "pending=0 dead=1 lag=0.0s" in stats.stdout

    listing = mercato(url, "outbox", "dead")
    assert listing.returncode == 0, listing.stderr
    dead_lines = [line for line in listing.stdout.splitlines() if str(dead) in line]
    assert len(dead_lines) == 1, listing.stdout
    assert CRASH_EVENT in dead_lines[0]
    assert "RuntimeError: exploded" in dead_lines[0]
    assert " 10 " in dead_lines[0]
    assert str(done) not in listing.stdout

    done_listing = mercato(url, "outbox", "list", "--status", "done")
    assert done_listing.returncode == 0, done_listing.stderr
    assert str(done) in done_listing.stdout
    assert str(dead) not in done_listing.stdout

    garbage = mercato(url, "outbox", "retry", "not-a-uuid")
    assert garbage.returncode == 2
    assert "Traceback" not in garbage.stderr
    bogus = mercato(url, "outbox", "list", "--status", "bogus")
    assert bogus.returncode == 2
    assert "Traceback" not in bogus.stderr

    unknown = mercato(url, "outbox", "retry", str(uuid.uuid4()))
    assert unknown.returncode == 0, unknown.stderr
    assert "Re-queued 0 event(s)." in unknown.stdout
    assert query(url, "SELECT status FROM outbox_events WHERE id = %(id)s", {"id": dead}) == [("dead",)]

    retry = mercato(url, "outbox", "retry", str(dead))
    assert retry.returncode == 0, retry.stderr
    assert "Re-queued 1 event(s)." in retry.stdout
    assert query(url, "SELECT status, attempts FROM outbox_events WHERE id = %(id)s", {"id": dead}) == [
        ("pending", 0)
    ]
    stats = mercato(url, "outbox", "stats")
    assert "pending=1 dead=0" in stats.stdout

    # The re-queued event is delivered by a worker that drains the outbox once and exits.
    worker = mercato(url, "worker", "--once", MERCATO_WORKER_HANDLER_MODULES="tests.fixtures.event_handlers")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert query(url, "SELECT status FROM outbox_events WHERE id = %(id)s", {"id": dead}) == [("done",)]
    assert query(url, "SELECT event_id, handler FROM crash_effects") == [(dead, CRASH_HANDLER)]
    assert query(url, "SELECT handler, event_id FROM outbox_processed") == [(CRASH_HANDLER, dead)]

    again = mercato(url, "outbox", "retry")
    assert again.returncode == 0, again.stderr
    assert "Re-queued 0 event(s)." in again.stdout
    assert "pending=0 dead=0" in mercato(url, "outbox", "stats").stdout


def test_retry_without_ids_requeues_every_dead_letter(fresh_database: Callable[[], str]) -> None:
    url = fresh_database()
    dead = [add_event(url, "dead", attempts=3, last_error="x") for _ in range(3)]
    result = mercato(url, "outbox", "retry")
    assert result.returncode == 0, result.stderr
    assert "Re-queued 3 event(s)." in result.stdout
    rows = query(url, "SELECT id, status, attempts FROM outbox_events ORDER BY id")
    assert rows == [(event_id, "pending", 0) for event_id in dead]
