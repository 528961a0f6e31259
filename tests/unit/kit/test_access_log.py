"""The access log writes one valid JSON object per request, escaping what clients control."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from mercato.kit.logging import AccessLog


def test_lines_are_json_with_every_field(tmp_path: Path) -> None:
    target = tmp_path / "access.log"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    log = AccessLog(fd=fd, max_pending=2)
    log.write("GET", "/store/products/{id}", '/store/products/"quoted"\\and\nnewline', 404, 0.0012345, "req-1")
    log.write("PATCH", "<unmatched>", "/x", 500, 2.5, "req-2")
    log.write("GET", "/healthz", "/healthz", 200, 0.00001, "req-3")
    log.flush()
    os.close(fd)
    lines = [orjson.loads(line) for line in target.read_bytes().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-1", "req-2", "req-3"]
    first = lines[0]
    assert first == {
        "method": "GET", "route": "/store/products/{id}", "status": 404,
        "path": '/store/products/"quoted"\\and\nnewline', "duration_ms": 1.234, "event": "request",
        "request_id": "req-1", "level": "info", "timestamp": first["timestamp"],
    }
    assert first["timestamp"].endswith("Z")
    assert len(first["timestamp"]) == len("2026-11-26T14:00:00.000000Z")
    assert lines[1]["status"] == 500
    assert lines[1]["duration_ms"] == 2500.0
