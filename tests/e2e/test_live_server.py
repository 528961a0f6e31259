"""A real `mercato serve` process on loopback, as users run it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.processes import Processes

pytestmark = pytest.mark.slow


def test_served_process_answers_health_docs_and_metrics(
    processes: Processes, fresh_database: Callable[[], str]
) -> None:
    base = processes.serve(fresh_database(), workers=2)

    health = httpx.get(f"{base}/healthz", headers={"x-request-id": "abc-123"})
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert health.headers["x-request-id"] == "abc-123"
    assert "x-content-type-options" not in health.headers, "probes get no browser-policy headers"

    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"]["current"] == ready.json()["migrations"]["head"]

    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()

    schema = httpx.get(f"{base}/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    login = schema["paths"]["/admin/auth/login"]["post"]
    assert "application/problem+json" in login["responses"]["422"]["content"]
    assert "application/problem+json" in login["responses"]["401"]["content"]

    bad = httpx.get(f"{base}/definitely/missing")
    assert bad.status_code == 404
    assert bad.headers["content-type"] == "application/problem+json"
    generated_id = bad.headers["x-request-id"]
    assert len(generated_id) >= 16

    for _ in range(5):
        httpx.get(f"{base}/readyz")
    time.sleep(1.5)  # each server process hands its request metrics over once a second
    metrics = httpx.get(f"{base}/metrics").text
    assert 'mercato_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics
    assert 'route="<unmatched>",status="404"' in metrics
    assert "mercato_outbox_pending" in metrics
    assert "mercato_db_pool_size" in metrics


def test_gzip_for_large_responses(processes: Processes, fresh_database: Callable[[], str]) -> None:
    base = processes.serve(fresh_database())
    response = httpx.get(f"{base}/openapi.json", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"


def test_access_log_is_one_json_line_per_request_without_secrets(
    processes: Processes, fresh_database: Callable[[], str]
) -> None:
    base = processes.serve(fresh_database(), MERCATO_LOG_LEVEL="INFO")
    response = httpx.post(
        f"{base}/admin/auth/login",
        json={"email": "who@example.com", "password": "hunter2-very-secret"},
        headers={"authorization": "Bearer secret-token-xyz", "x-request-id": "log-check-1"},
    )
    assert response.status_code == 401
    processes.stop_all()
    log_text = "".join(path.read_text() for path in processes.log_dir.glob("serve-*.log"))
    assert "hunter2-very-secret" not in log_text
    assert "secret-token-xyz" not in log_text
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request" and line.get("request_id") == "log-check-1"]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "POST"
    assert entry["route"] == "/admin/auth/login"
    assert entry["status"] == 401
    assert isinstance(entry["duration_ms"], float)
    assert entry["timestamp"].endswith("Z")
