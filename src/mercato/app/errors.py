"""Every error path ends here, as RFC 9457 problem+json with a stable code."""

from __future__ import annotations

from typing import Any

import structlog
from asyncpg.exceptions._base import DataError as AsyncpgParameterError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mercato.kit import errors as e
from mercato.kit.logging import request_id_var
from mercato.kit.metrics import INPUT_REFUSED_BY_DATABASE
from mercato.kit.web.problems import problem_response

# Checked in order; the first base class an error derives from decides the status.
_STATUS_BY_KIND: tuple[tuple[type[e.DomainError], int], ...] = (
    (e.MalformedRequest, 400),
    (e.Unauthenticated, 401),
    (e.PaymentDeclined, 402),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.PreconditionFailed, 412),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMediaType, 415),
    (e.InvalidInput, 422),
    (e.RateLimited, 429),
    (e.ServiceUnavailable, 503),
)

_HTTP_CODES = {
    400: "request.malformed",
    401: "auth.unauthenticated",
    403: "auth.forbidden",
    404: "not_found",
    405: "request.method_not_allowed",
    406: "request.not_acceptable",
    413: "request.too_large",
    415: "request.unsupported_media_type",
}

_log = structlog.get_logger("mercato.errors")


def status_for(exc: e.DomainError) -> int:
    for kind, status in _STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    return 400


def domain_error_response(_: Request, exc: e.DomainError) -> Response:
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, e.RateLimited | e.ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, e.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(
        status,
        exc.code,
        exc.message,
        title=exc.title,
        errors=[{"field": f.field, "code": f.code, "message": f.message} for f in exc.errors],
        request_id=request_id_var.get() or None,
        headers=headers,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = parts.pop(0)
        if source != "body":
            parts.insert(0, source)
    return ".".join(str(p) for p in parts) or "body"


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        detail = next(
            (f"Malformed JSON: {err['ctx']['error']}" for err in errors if err.get("ctx", {}).get("error")),
            "Malformed JSON.",
        )
        return problem_response(400, "request.malformed_json", detail, request_id=request_id_var.get() or None)
    fields = [
        {"field": _field_path(tuple(err.get("loc", ()))), "code": str(err.get("type", "invalid")),
         "message": str(err.get("msg", "Invalid value"))}
        for err in errors
    ]
    return problem_response(
        422, "validation.invalid", "The request has invalid fields.", title="Invalid input",
        errors=fields, request_id=request_id_var.get() or None,
    )


async def _domain_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.DomainError)
    return domain_error_response(request, exc)


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404:
        detail = f"No resource at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed here."
    return problem_response(
        exc.status_code, code, detail, request_id=request_id_var.get() or None, headers=exc.headers or {}
    )


async def _database_handler(request: Request, exc: Exception) -> Response:
    _log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
    return problem_response(
        503, "service.database_unavailable", "The database is unavailable; retry shortly.",
        request_id=request_id_var.get() or None, headers={"Retry-After": "5"},
    )


async def _os_error_handler(request: Request, exc: Exception) -> Response:
    """A socket-level failure reaching the web layer means a dependency is down: 503, not 500."""
    if _raised_by_database_driver(exc):
        return await _database_handler(request, exc)
    _log.warning("dependency_unavailable", error=type(exc).__name__, path=request.url.path)
    return problem_response(
        503, "service.unavailable", "A service this request needs is unavailable; retry shortly.",
        request_id=request_id_var.get() or None, headers={"Retry-After": "5"},
    )


def _raised_by_database_driver(exc: BaseException) -> bool:
    # asyncpg lets connect-time socket errors (refused, socket file missing) through unwrapped.
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        tb = tb.tb_next
    return False


# Data exceptions (SQLSTATE class 22) that a bound value causes: one the driver cannot even encode
# (22000: asyncpg's "invalid input for query argument", e.g. an int beyond int64 or a date past year
# 9999), text too long for its column, a number or a time out of the column's range, NUL or an
# unmappable character in text or jsonb, text that is no valid value of the column's type. Not the
# rest of the class (division by zero, ...): those are our bugs and stay 500s.
_VALUE_SQLSTATES = frozenset({"22000", "22001", "22003", "22008", "22021", "22P05", "22P02", "22007"})
# asyncpg versions that raise their client-side DataError (no SQLSTATE) for such a parameter.
_UNENCODABLE = "unencodable_parameter"


def _refused_value(exc: DBAPIError) -> str | None:
    """The SQLSTATE (or _UNENCODABLE) when the database or its driver refused a value of the
    statement, None for anything else."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate if sqlstate in _VALUE_SQLSTATES else None
        if isinstance(current, AsyncpgParameterError):
            return _UNENCODABLE
        current = current.__cause__ or current.__context__
    return None


async def _dbapi_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    refused = _refused_value(exc)
    if refused is not None:
        # The safety net under validation: a client value that no validation rule caught is still
        # the client's error (422, and the transaction rolls back), never a 500. Each hit means a
        # rule is missing, hence the warning and the counter (the API fuzz test fails on any hit).
        INPUT_REFUSED_BY_DATABASE.labels(refused).inc()
        # Not the driver's message: it may quote the client's value.
        _log.warning("input_refused_by_database", sqlstate=refused, path=request.url.path,
                     error=type(exc.orig).__name__)
        return problem_response(
            422, "validation.invalid", "A value in the request is not one the server can store or compare.",
            title="Invalid input", request_id=request_id_var.get() or None,
        )
    if exc.connection_invalidated or isinstance(exc, InterfaceError) or _is_connectivity(exc):
        return await _database_handler(request, exc)
    raise exc


def _is_connectivity(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, ConnectionError | OSError | TimeoutError) or name in {
            "CannotConnectNowError", "ConnectionDoesNotExistError", "InterfaceError",
            "AdminShutdownError", "TooManyConnectionsError", "ConnectionFailureError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False


async def _unhandled_handler(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware sends this and re-raises; RequestContextMiddleware logs it.
    return problem_response(
        500, "internal_error", "An unexpected error occurred; quote the request id when reporting it.",
        request_id=request_id_var.get() or None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.state.domain_error_response = domain_error_response
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(e.DomainError, _domain_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    for exc_type in (OperationalError, PoolTimeout):
        app.add_exception_handler(exc_type, _database_handler)
    app.add_exception_handler(OSError, _os_error_handler)  # also ConnectionError and TimeoutError
    app.add_exception_handler(DBAPIError, _dbapi_handler)  # InterfaceError too: it may be a refused value
    app.add_exception_handler(Exception, _unhandled_handler)
