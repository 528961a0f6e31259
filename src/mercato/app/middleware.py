"""One pure-ASGI middleware for the per-request plumbing (kept in one layer because every layer
costs time on every request): request id, body size limit, security headers, metrics, the access
log line, and the last-resort 500. `/healthz` is answered here directly: a liveness probe should
cost as little as possible and must not depend on routing or the database.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Sequence

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.app.fast_paths import BufferedReceive, FastPath
from mercato.kit.logging import AccessLog, request_id_var
from mercato.kit.metrics import REQUEST_METRICS
from mercato.kit.web.problems import PROBLEM_MEDIA_TYPE, problem_body

REQUEST_ID_HEADER = b"x-request-id"
_MAX_REQUEST_ID = 128
_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
# /docs loads Swagger UI's script and styles from a CDN; it gets a policy that allows them.
_DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    b"frame-ancestors 'none'"
)
_HEALTHZ_BODY = b'{"status":"ok"}'
_UNMATCHED = "<unmatched>"
_CLIENT_CLOSED = 499

# Request ids: a random per-process prefix plus a counter; unique across processes, and cheaper
# than drawing 12 random bytes per request.
_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so body
    parsing lets it through to the problem handlers instead of turning it into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body exceeds {limit} bytes.")


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):012x}"


def _supplied_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return _clean_request_id(value)
    return None


def _request_id(scope: Scope) -> str:
    return _supplied_request_id(scope) or _new_request_id()


def _clean_request_id(raw: bytes) -> str | None:
    try:
        value = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if 0 < len(value) <= _MAX_REQUEST_ID and all(c.isalnum() or c in "-_.:" for c in value):
        return value
    return None


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, access_log: AccessLog | None, hsts: bool,
        fast_paths: Sequence[FastPath] = (),
        body_limits: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.fast_paths = tuple(fast_paths)
        self.max_body_bytes = max_body_bytes
        # Routes that take larger bodies than the default (image uploads): (path pattern, limit).
        self.body_limits = tuple(body_limits)
        self.access_log = access_log
        self.extra_headers = list(_SECURITY_HEADERS)
        if hsts:
            self.extra_headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await self.healthz(scope, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        rid = request_id.encode()
        status = 500
        response_started = False
        route: str | None = None
        path: str = scope["path"]
        body_limit = self._body_limit(path) if scope["method"] in _BODY_METHODS else self.max_body_bytes
        security_headers = self.extra_headers
        if path in ("/docs", "/redoc"):
            security_headers = [h for h in security_headers if h[0] != b"content-security-policy"]
            security_headers.append((b"content-security-policy", _DOCS_CSP))

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, rid))
                headers.extend(security_headers)
                message["headers"] = headers
            await send(message)

        try:
            if self._declared_too_large(scope, body_limit):
                raise BodyTooLarge(body_limit)
            # A fast path that reads the body and then leaves the request to the app hands it on.
            buffered = BufferedReceive(self._limit_receive(receive, body_limit))
            for fast_path in self.fast_paths:
                if await fast_path(scope, buffered, send_wrapper) is not None:
                    route = fast_path.route
                    break
            else:
                await self.app(scope, buffered, send_wrapper)
        except BodyTooLarge:
            if not response_started:
                await self._problem(send_wrapper, 413, "request.too_large",
                                    f"The body exceeds {body_limit} bytes.", request_id)
        except ClientDisconnect:
            # Gone before its body arrived: no one to answer, nothing went wrong on our side. The
            # access log and metrics say 499 (as nginx does for a request its client closed).
            if not response_started:
                status = _CLIENT_CLOSED
        except Exception:
            structlog.get_logger("mercato").exception("unhandled_error", path=path)
            if not response_started:
                await self._problem(send_wrapper, 500, "internal_error",
                                    "An unexpected error occurred; quote the request id when reporting it.",
                                    request_id)
        finally:
            self._finish(scope, route or _route_label(scope), status, started, request_id)
            request_id_var.reset(token)

    def _finish(self, scope: Scope, route: str, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        method = scope["method"]
        REQUEST_METRICS.record(method, route, status, elapsed)
        if self.access_log is not None:
            self.access_log.write(method, route, scope["path"], status, elapsed, request_id)

    def _body_limit(self, path: str) -> int:
        for pattern, limit in self.body_limits:  # a handful of patterns, only for requests with a body
            if pattern.fullmatch(path):
                return limit
        return self.max_body_bytes

    def _declared_too_large(self, scope: Scope, limit: int) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value) > limit
                except ValueError:
                    return False
        return False

    def _limit_receive(self, receive: Receive, limit: int) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited

    async def healthz(self, scope: Scope, send: Send) -> None:
        """Answer a liveness probe (the app calls this before any other layer)."""
        started = time.perf_counter()
        supplied = _supplied_request_id(scope)
        request_id = supplied or _new_request_id()
        await self._healthz(scope, send, supplied)
        self._finish(scope, "/healthz", 200, started, request_id)

    @staticmethod
    async def _healthz(scope: Scope, send: Send, supplied_request_id: str | None) -> None:
        # Probes are machines, not browsers: the browser-policy headers are left off, and a request
        # id is echoed only when the prober sent one (its own is still logged). uvicorn validates
        # every header it sends, and this endpoint is hit constantly.
        headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
        if supplied_request_id is not None:
            headers.append((REQUEST_ID_HEADER, supplied_request_id.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else _HEALTHZ_BODY})

    @staticmethod
    async def _problem(send: Send, status: int, code: str, detail: str, request_id: str) -> None:
        body = problem_body(status, code, detail, request_id=request_id)
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        })
        await send({"type": "http.response.body", "body": body})


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path_format = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path_format) if path_format else _UNMATCHED
