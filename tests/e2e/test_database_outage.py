"""Killing the database gives 503s (readiness and requests), never hangs or tracebacks; bringing it
back recovers without restarting the app. Runs its own PostgreSQL so no other test is disturbed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from mercato.kit.embedded_pg import EmbeddedPostgres
from mercato.kit.migrations import upgrade
from tests.fixtures.processes import Processes

pytestmark = pytest.mark.slow


def _wait_for_status(request: Callable[[], httpx.Response], status: int, timeout_s: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = request()
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.text
            return response
        time.sleep(0.2)


def test_database_outage_and_recovery(pg_data_dir: Path, processes: Processes) -> None:
    server = EmbeddedPostgres(pg_data_dir)
    server.ensure_running()
    try:
        server.ensure_database("outage")
        url = server.url("outage")
        upgrade(url)
        base = processes.serve(url)
        login = {"email": "nobody@example.com", "password": "irrelevant-password"}

        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.post(f"{base}/admin/auth/login", json=login).status_code == 401

        server.stop(mode="immediate")
        started = time.monotonic()
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        response = httpx.post(f"{base}/admin/auth/login", json=login, timeout=15)
        assert time.monotonic() - started < 12, "requests must fail fast, not hang"
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "service.database_unavailable"
        assert "Traceback" not in response.text
        assert httpx.get(f"{base}/healthz").status_code == 200, "liveness does not depend on the database"

        server.ensure_running()
        _wait_for_status(lambda: httpx.get(f"{base}/readyz", timeout=5), 200)
        recovered = _wait_for_status(lambda: httpx.post(f"{base}/admin/auth/login", json=login, timeout=5), 401)
        assert recovered.json()["code"] == "auth.invalid_credentials"
    finally:
        processes.stop_all()
        server.stop(mode="immediate")
