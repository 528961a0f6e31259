"""A real `mercato serve` process on loopback, as users run it."""

from __future__ import annotations

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
    assert health.headers["x-content-type-options"] == "nosniff"

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
