"""Batched request metrics reach prometheus_client exactly as per-request observe() calls would."""

from __future__ import annotations

from prometheus_client import REGISTRY

from mercato.kit.metrics import LATENCY_BUCKETS, RequestMetrics


def _sample(name: str, labels: dict[str, str]) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_flush_adds_counts_buckets_and_sum() -> None:
    labels = {"method": "GET", "route": "/unit-metrics"}
    before_count = _sample("mercato_http_requests_total", {**labels, "status": "200"})
    before_le = {b: _sample("mercato_http_request_duration_seconds_bucket", {**labels, "le": str(b)})
                 for b in LATENCY_BUCKETS}
    before_inf = _sample("mercato_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"})
    before_sum = _sample("mercato_http_request_duration_seconds_sum", labels)
    metrics = RequestMetrics()
    observations = [0.0005, 0.001, 0.003, 0.2, 0.2, 7.0, 42.0]
    for seconds in observations:
        metrics.record("GET", "/unit-metrics", 200, seconds)  # no event loop: flushed at once
    metrics.flush()
    assert _sample("mercato_http_requests_total", {**labels, "status": "200"}) - before_count == len(observations)
    for bound in LATENCY_BUCKETS:
        expected = sum(1 for o in observations if o <= bound)
        got = _sample("mercato_http_request_duration_seconds_bucket", {**labels, "le": str(bound)})
        assert got - before_le[bound] == expected, bound
    assert _sample("mercato_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"}) - before_inf == len(
        observations
    )
    assert abs(_sample("mercato_http_request_duration_seconds_sum", labels) - before_sum - sum(observations)) < 1e-9
