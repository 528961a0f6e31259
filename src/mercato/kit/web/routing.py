"""The route class every router uses: one transaction per request, content-type checks, the
request-wide input rules of kit.web.inputs, and `Idempotency-Key` handling for routes marked with
`@idempotent`.

The transaction commits here, before the response leaves, in exactly one place: a 2xx/3xx answer
commits, anything else rolls back.
"""

from __future__ import annotations

import email.message
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from mercato.kit import idempotency
from mercato.kit.db import AfterCommit, run_after_commit, take_after_commit
from mercato.kit.errors import DomainError, UnsupportedMediaType
from mercato.kit.settings import Settings
from mercato.kit.web import inputs
from mercato.kit.web.auth import optional_principal

F = TypeVar("F", bound=Callable[..., Any])

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})
# Responses replayed for a reused key: the outcome of work that ran (Stripe does the same).
_STORED_STATUSES = frozenset({*range(200, 400), 402})
_REPLAY_HEADERS = ("content-type", "location", "etag")


def idempotent(endpoint: F) -> F:
    """Mark a POST endpoint as honouring `Idempotency-Key`."""
    endpoint.__mercato_idempotent__ = True  # type: ignore[attr-defined]
    return endpoint


class UnitOfWork:
    """A lazily opened session: endpoints that never touch the database never take a connection."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory()
        return self._session

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def finish(self, commit: bool) -> None:
        if self._session is None:
            return
        session, self._session = self._session, None
        callbacks: list[AfterCommit] = []
        try:
            if commit:
                await session.commit()
                callbacks = take_after_commit(session)
            else:
                await session.rollback()
        finally:
            session.info.pop("after_commit", None)
            await session.close()
        await run_after_commit(callbacks)  # the data is committed; a failed side effect is not a 500


async def get_session(request: Request) -> AsyncSession:
    """FastAPI dependency: the request's session. Services flush; this route class commits."""
    uow: UnitOfWork = request.state.uow
    return uow.session


def domain_error_response(request: Request, exc: DomainError) -> Response:
    """Turn a domain error into its problem response (the app registers the same for handlers)."""
    mapper: Callable[[Request, DomainError], Response] = request.app.state.domain_error_response
    return mapper(request, exc)


class MercatoRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()
        expects_json = self.body_field is not None and not _is_form(self)
        is_idempotent = bool(getattr(self.endpoint, "__mercato_idempotent__", False))

        async def handler(request: Request) -> Response:
            if expects_json and request.method in _BODY_METHODS:
                _check_json_content_type(request)
            # Before any dependency or session: refused input must change nothing.
            inputs.check_query(request)
            if expects_json:
                await inputs.check_json_body(request)
            db = request.app.state.db
            factory: async_sessionmaker[AsyncSession] = db.sessionmaker
            uow = UnitOfWork(db.read_sessionmaker if request.method in _SAFE_METHODS else factory)
            request.state.uow = uow
            key = request.headers.get("idempotency-key") if is_idempotent else None
            if key is None:
                return await _run(inner, request, uow)
            return await _run_idempotent(inner, request, uow, factory, key)

        return handler


async def _run(
    inner: Callable[[Request], Awaitable[Response]], request: Request, uow: UnitOfWork
) -> Response:
    try:
        response = await inner(request)
    except BaseException:
        await uow.finish(commit=False)
        raise
    await uow.finish(commit=response.status_code < 400)
    return response


async def _run_idempotent(
    inner: Callable[[Request], Awaitable[Response]],
    request: Request,
    uow: UnitOfWork,
    factory: async_sessionmaker[AsyncSession],
    raw_key: str,
) -> Response:
    settings: Settings = request.app.state.settings
    key = idempotency.validate_key(raw_key)
    principal = await optional_principal(request)
    scope = principal.scope if principal else "anonymous"
    body = await request.body()
    target = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    fp = idempotency.fingerprint(request.method, target, body)
    async with factory() as claim_session, claim_session.begin():
        replay = await idempotency.claim(
            claim_session,
            scope=scope,
            key=key,
            fingerprint_=fp,
            ttl=timedelta(seconds=settings.idempotency_ttl_s),
            lock_timeout=timedelta(seconds=settings.idempotency_lock_timeout_s),
        )
    if replay is not None:
        headers = {**replay.headers, "idempotent-replayed": "true"}
        return Response(replay.body, status_code=replay.status, headers=headers)

    try:
        try:
            response = await inner(request)
        except DomainError as exc:
            response = domain_error_response(request, exc)
        stored = _storable(response)
        succeeded = response.status_code < 400
        if succeeded and stored is not None:
            # Recorded in the request's own transaction: committed together or not at all.
            await idempotency.complete(uow.session, scope=scope, key=key, response=stored)
        # Same rule as every other route: a success commits, even one that cannot be stored.
        await uow.finish(commit=succeeded)
    except BaseException:
        await uow.finish(commit=False)
        await _release(factory, scope, key)
        raise
    if succeeded and stored is not None:
        return response
    # A stored error (402) is recorded after the rollback; an unstorable answer frees the key.
    async with factory() as session, session.begin():
        if stored is not None:
            await idempotency.complete(session, scope=scope, key=key, response=stored)
        else:
            await idempotency.release(session, scope=scope, key=key)
    return response


async def _release(factory: async_sessionmaker[AsyncSession], scope: str, key: str) -> None:
    try:
        async with factory() as session, session.begin():
            await idempotency.release(session, scope=scope, key=key)
    except Exception:  # noqa: S110 - the lock times out on its own if the database is unreachable
        pass


def _storable(response: Response) -> idempotency.StoredResponse | None:
    if response.status_code not in _STORED_STATUSES or not hasattr(response, "body"):
        return None
    headers = {name: response.headers[name] for name in _REPLAY_HEADERS if name in response.headers}
    return idempotency.StoredResponse(response.status_code, headers, bytes(response.body))


def _is_form(route: APIRoute) -> bool:
    from fastapi import params

    return route.body_field is not None and isinstance(route.body_field.field_info, params.Form)


def _check_json_content_type(request: Request) -> None:
    raw = request.headers.get("content-type")
    if raw is None:
        if request.headers.get("content-length", "0") in ("", "0") and "transfer-encoding" not in request.headers:
            return  # no body at all: validation reports the missing fields
        raise UnsupportedMediaType("Send the body as application/json.")
    message = email.message.Message()
    message["content-type"] = raw
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise UnsupportedMediaType(f"Content-Type {raw!r} is not supported; send application/json.")
