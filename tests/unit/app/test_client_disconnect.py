"""A client that goes away before its request body has arrived: nothing is answered (no one is
there), nothing is logged as an error, and the request counts as 499 — on a fast path (the
add-to-cart one reads the body itself) and on a route alike."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.requests import Request
from structlog.testing import capture_logs

from mercato.app.fast_paths import CartLineFastPath
from mercato.app.middleware import RequestContextMiddleware
from mercato.kit.metrics import REQUEST_METRICS


def _no_database() -> Any:
    raise AssertionError("nothing reaches the database for a request without its body")


async def _route(scope: Any, receive: Any, send: Any) -> None:
    await Request(scope, receive).body()  # what every route that reads a body does first
    raise AssertionError("the body never arrives")


def _closed_by_client() -> float:
    """POST requests counted as 499, whatever their route label."""
    REQUEST_METRICS.flush()
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "mercato_http_requests"
               for sample in metric.samples
               if sample.name.endswith("_total") and sample.labels.get("status") == "499"
               and sample.labels.get("method") == "POST")


@pytest.mark.parametrize("path", [f"/store/carts/{uuid.uuid4()}/lines", "/store/carts"])
async def test_a_client_gone_before_its_body_gets_no_answer_and_no_error(path: str) -> None:
    middleware = RequestContextMiddleware(_route, max_body_bytes=10_000, access_log=None, hsts=False,
                                          fast_paths=[CartLineFastPath(_no_database)])
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json")]}
    arriving = iter([{"type": "http.request", "body": b'{"variant_id": ', "more_body": True},
                     {"type": "http.disconnect"}])
    sent: list[Any] = []

    async def receive() -> Any:
        return next(arriving)

    async def send(message: Any) -> None:
        sent.append(message)

    before = _closed_by_client()
    with capture_logs() as logs:
        await middleware(scope, receive, send)
    assert sent == []
    assert [entry["event"] for entry in logs if entry["log_level"] in ("error", "critical")] == []
    assert _closed_by_client() == before + 1
