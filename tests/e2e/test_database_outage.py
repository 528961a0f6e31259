"""Killing the database gives 503s (readiness and requests), never hangs or tracebacks; bringing it
back recovers without restarting the app. Runs its own PostgreSQL so no other test is disturbed."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from mercato.kit.embedded_pg import EmbeddedPostgres
from mercato.kit.migrations import upgrade
from tests.fixtures.processes import Processes

pytestmark = pytest.mark.slow


def _eventually(check, timeout_s: float = 15.0) -> httpx.Response:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        last = check()
        if last is not None:
            return last
        time.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout_s}s; last response: {last and last.text}")


def test_database_outage_and_recovery(tmp_path: Path, processes: Processes) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
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
        _eventually(lambda: (r := httpx.get(f"{base}/readyz", timeout=5)).status_code == 200 and r or None)
        recovered = _eventually(
            lambda: (r := httpx.post(f"{base}/admin/auth/login", json=login, timeout=5)).status_code == 401 and r
            or None
        )
        assert recovered.json()["code"] == "auth.invalid_credentials"
    finally:
        processes.stop_all()
        server.stop(mode="immediate")
