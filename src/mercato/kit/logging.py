"""structlog configured for one JSON object per line, with the request id bound per request."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import logging
import os
import sys
import time
from typing import Any

import orjson
import structlog

# Set per request by the HTTP middleware, per job by the worker; added to every log line.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_SECRET_KEYS = frozenset({"password", "token", "access_token", "refresh_token", "secret", "authorization"})


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
    return event


def _add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("request_id", request_id)
    return event


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(level: str = "INFO") -> None:
    numeric = logging.getLevelNamesMapping()[level]
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(serializer=_dumps),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Route stdlib logging (uvicorn, sqlalchemy warnings) through the same JSON renderer.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(serializer=_dumps),
            ],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn.access",):
        logging.getLogger(name).disabled = True  # our middleware writes the access line
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class AccessLog:
    """The one-line-per-request access log, written to stdout as JSON.

    It carries the same fields as structlog's lines but skips its processor chain, which cost more
    than the rest of the request plumbing together, and it batches lines into one write per
    `flush_interval_s` (or `max_pending` lines): at thousands of requests a second, a system call
    per line is most of the cost. No bodies, no headers: nothing secret.
    """

    def __init__(self, fd: int = 1, *, flush_interval_s: float = 0.05, max_pending: int = 256) -> None:
        self._fd = fd
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._second = -1
        self._second_text = b""
        self._prefixes: dict[tuple[str, str, int], bytes] = {}
        atexit.register(self.flush)

    def write(self, method: str, route: str, path: str, status: int, seconds: float, request_id: str) -> None:
        # Formatted by hand from cached, already-escaped pieces: this runs on every request and is
        # twice as fast as serialising a dict. Only the path comes from the client: it is escaped.
        # (Request ids are validated to [A-Za-z0-9._:-] before they get here.)
        key = (method, route, status)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) > 1000:  # methods are client-chosen: keep the cache bounded
                self._prefixes.clear()
            prefix = self._prefixes[key] = b'{"method":%s,"route":%s,"status":%d,"path":' % (
                orjson.dumps(method), orjson.dumps(route), status)
        nanoseconds = time.time_ns()
        second, fraction = divmod(nanoseconds, 1_000_000_000)
        if second != self._second:  # formatting the date part once a second is enough
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        self._pending.append(
            b'%s%s,"duration_ms":%.3f,"event":"request","request_id":"%s","level":"info","timestamp":"%s.%06dZ"}\n'
            % (prefix, orjson.dumps(path), seconds * 1000, request_id.encode(), self._second_text, fraction // 1000)
        )
        if len(self._pending) >= self._max_pending:
            self.flush()
        elif not self._flush_scheduled:
            try:
                asyncio.get_running_loop().call_later(self._flush_interval_s, self.flush)
                self._flush_scheduled = True
            except RuntimeError:  # no event loop (a synchronous caller): write now
                self.flush()

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        with contextlib.suppress(OSError):  # a closed stdout must not fail requests
            while data:
                written = os.write(self._fd, data)
                data = data[written:]


def access_log_for(enabled: bool, level: str) -> AccessLog | None:
    if not enabled or logging.getLevelNamesMapping()[level] > logging.INFO:
        return None
    return AccessLog()


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
