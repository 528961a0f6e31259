"""A `mercato worker` rides out a database outage: it neither exits nor loses events, and resumes
delivering when PostgreSQL is back. Runs its own PostgreSQL so no other test is disturbed."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from mercato.kit.embedded_pg import EmbeddedPostgres
from mercato.kit.ids import new_id
from mercato.kit.migrations import upgrade
from tests.fixtures.event_handlers import CRASH_EVENT, CRASH_TABLES_DDL
from tests.fixtures.processes import Processes, process_env

pytestmark = pytest.mark.slow


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def emit_events(url: str, count: int) -> None:
    with psycopg.connect(url) as conn:
        for _ in range(count):
            conn.execute(
                "INSERT INTO outbox_events (id, name, payload, status, attempts, created_at, available_at)"
                " VALUES (%s, %s, '{}', 'pending', 0, now(), now())",
                (new_id(), CRASH_EVENT),
            )


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, f"the worker exited ({proc.returncode}) while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_worker_survives_a_database_restart(pg_data_dir: Path, processes: Processes) -> None:
    server = EmbeddedPostgres(pg_data_dir)
    server.ensure_running()
    try:
        server.ensure_database("worker_outage")
        url = server.url("worker_outage")
        upgrade(url)
        for ddl in CRASH_TABLES_DDL:
            sql(url, ddl)
        # Polling so rare that only LISTEN/NOTIFY can explain prompt deliveries.
        env = process_env(url, MERCATO_WORKER_HANDLER_MODULES="tests.fixtures.event_handlers",
                          MERCATO_WORKER_POLL_INTERVAL_S="60", MERCATO_OUTBOX_BATCH_SIZE="20",
                          CRASH_HANDLER_DELAY_S="0.05")
        worker = processes.spawn(["worker"], env, "worker")

        def done() -> int:
            count = sql(url, "SELECT count(*) FROM outbox_events WHERE status = 'done'")[0][0]
            assert isinstance(count, int)
            return count

        emit_events(url, 60)
        # Stop the server (connections terminated by the administrator) in the middle of a batch.
        wait_for(lambda: done() >= 20, "the first batch", worker)
        server.stop(mode="fast")
        time.sleep(3)  # several attempts against a dead server
        assert worker.poll() is None, "the worker must not exit when the database goes away"

        server.ensure_running()
        wait_for(lambda: done() == 60, "the interrupted batches after the restart", worker, timeout_s=15)
        # The worker listens again after the restart: new events are delivered at once.
        for expected in (65, 70):
            emit_events(url, 5)
            wait_for(lambda: done() == expected, "a prompt delivery after the restart", worker, timeout_s=5)  # noqa: B023
        assert sql(url, "SELECT count(*), count(DISTINCT event_id) FROM crash_effects") == [(70, 70)]
        assert sql(url, "SELECT count(*) FROM outbox_events WHERE status <> 'done' OR attempts > 0") == [(0,)]
    finally:
        processes.stop_all()
        server.stop(mode="immediate")
