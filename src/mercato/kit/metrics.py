"""Prometheus metrics. With several server processes set PROMETHEUS_MULTIPROC_DIR (the CLI does)."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "mercato_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "mercato_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_CHECKED_OUT = Gauge(
    "mercato_db_pool_checked_out", "Database connections in use", multiprocess_mode="livesum"
)
DB_POOL_SIZE = Gauge("mercato_db_pool_size", "Database pool size", multiprocess_mode="livesum")
OUTBOX_PENDING = Gauge("mercato_outbox_pending", "Outbox events waiting for delivery", multiprocess_mode="max")
OUTBOX_DEAD = Gauge("mercato_outbox_dead", "Outbox events dead-lettered", multiprocess_mode="max")
OUTBOX_LAG = Gauge(
    "mercato_outbox_lag_seconds", "Age of the oldest undelivered outbox event", multiprocess_mode="max"
)
OUTBOX_PROCESSED = Counter(
    "mercato_outbox_processed_total", "Outbox handler runs by outcome", ["handler", "outcome"]
)


class RequestMetrics:
    """Records one request in the counter and the histogram. The labelled children are cached:
    `labels()` costs more than the increment itself, and this runs on every request."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


REQUEST_METRICS = RequestMetrics()


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
