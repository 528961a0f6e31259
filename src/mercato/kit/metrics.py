"""Prometheus metrics. With several server processes set PROMETHEUS_MULTIPROC_DIR (the CLI does)."""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left

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
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_LATENCY = Histogram(
    "mercato_http_request_duration_seconds", "HTTP request latency by route", ["method", "route"],
    buckets=LATENCY_BUCKETS,
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
INPUT_REFUSED_BY_DATABASE = Counter(
    "mercato_input_refused_by_database_total",
    "Requests answered 422 because only the database refused a value (a validation rule is missing)",
    ["sqlstate"],
)
OUTBOX_PROCESSED = Counter(
    "mercato_outbox_processed_total", "Outbox handler runs by outcome", ["handler", "outcome"]
)


class RequestMetrics:
    """Per-request counts and latencies, kept in plain dicts and handed to prometheus_client in
    batches (each second, and before every scrape). prometheus_client takes a lock per update,
    and in multi-process mode writes to a memory-mapped file; once a second is cheap, twice per
    request is not."""

    def __init__(self, flush_interval_s: float = 1.0) -> None:
        self._flush_interval_s = flush_interval_s
        self._counts: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], list[float]] = {}  # per-bucket counts, then the sum
        self._flush_scheduled = False

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency[(method, route)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency[-1] += seconds
        if not self._flush_scheduled:
            try:
                asyncio.get_running_loop().call_later(self._flush_interval_s, self.flush)
                self._flush_scheduled = True
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._flush_scheduled = False
        counts, self._counts = self._counts, {}
        latencies, self._latency = self._latency, {}
        for (method, route, status), count in counts.items():
            HTTP_REQUESTS.labels(method, route, str(status)).inc(count)
        for (method, route), latency in latencies.items():
            child = HTTP_LATENCY.labels(method, route)
            # prometheus_client has no bulk observe(); its per-bucket values are the same
            # objects observe() increments (bucket i counts values <= bound i, the last is +Inf).
            for index, observed in enumerate(latency[:-1]):
                if observed:
                    child._buckets[index].inc(observed)
            child._sum.inc(latency[-1])


REQUEST_METRICS = RequestMetrics()


def render() -> tuple[bytes, str]:
    REQUEST_METRICS.flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
