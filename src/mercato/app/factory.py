from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

import mercato
from mercato.app.errors import install_error_handlers
from mercato.app.fast_paths import CartLineFastPath, ProductDetailFastPath, ProductListFastPath
from mercato.app.health import router as health_router
from mercato.app.middleware import RequestContextMiddleware
from mercato.app.ops import router as ops_router
from mercato.app.route_index import skip_unreachable_routers
from mercato.kit.cache import build_cache, register_app_cache
from mercato.kit.db import Database, resolve_database_url
from mercato.kit.logging import access_log_for, configure_logging
from mercato.kit.migrations import head_revision, known_revisions
from mercato.kit.ratelimit import build_rate_limiter
from mercato.kit.secrets import signing_secret
from mercato.kit.settings import Settings, get_settings
from mercato.kit.storage import build_storage
from mercato.kit.web.problems import PROBLEM_MEDIA_TYPE, Problem
from mercato.modules import payments
from mercato.modules.identity import KeyRing, TokenAuthenticator
from mercato.registry import routers

_GC_YOUNG_THRESHOLD = 10_000

DESCRIPTION = """Mercato is a headless commerce backend.

`/store/...` serves storefronts and shoppers; `/admin/...` serves staff and integrations.
Every error is `application/problem+json` (RFC 9457) with a stable `code`.
"""


class MercatoAPI(FastAPI):
    """FastAPI with RequestContextMiddleware outside everything, Starlette's own layers included:
    it must see every response (to count and log it) and costs least when it runs first."""

    _context: RequestContextMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # FastAPI's own __call__ consults its telemetry settings (environment look-ups) on every
        # request; we do not use that feature, so HTTP goes straight to the middleware stack.
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self._context is not None and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await self._context.healthz(scope, send)  # the liveness probe: as cheap as it gets
            return
        if self.root_path:
            scope["root_path"] = self.root_path
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        self.state.access_log = access_log_for(settings.access_log, settings.log_level)
        self._context = RequestContextMiddleware(
            super().build_middleware_stack(),
            max_body_bytes=settings.max_body_bytes,
            access_log=self.state.access_log,
            hsts=settings.env == "production",
            fast_paths=[
                ProductDetailFastPath(lambda: self.state.db, lambda: self.state.cache, settings.default_channel),
                ProductListFastPath(lambda: self.state.db, lambda: self.state.cache, settings.default_channel),
                CartLineFastPath(lambda: self.state.db),
            ],
            # Routes that stream large files into storage. The media route checks the file itself
            # (413 media.too_large), so its limit here is only a backstop a little above that.
            body_limits=[
                (re.compile(r"/admin/products/[^/]+/media"), settings.media_max_bytes + 1024 * 1024),
                (re.compile(r"/admin/imports"), settings.max_import_bytes),
            ],
        )
        return self._context


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    payments.enable_gateways(settings.payment_gateways)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        if database is None:
            url = await asyncio.to_thread(resolve_database_url, settings)
            app.state.db = Database.connect(url, settings)
        else:
            app.state.db = database
        listen = getattr(app.state.cache, "listen", None)
        if listen is not None:
            listen()  # other processes' invalidations reach this process's in-memory cache
        # Everything built so far lives as long as the process. Moved out of the collector's sight,
        # it no longer makes each full collection walk it: those walks stalled every request in
        # flight (a p99 of 140 ms against 22 ms without them, bench/README.md).
        gc.collect()
        gc.freeze()
        # A request allocates thousands of containers, nearly all freed by reference counting; at the
        # default threshold (700) the young collection ran several times per request, each walking
        # the new objects of every request in flight: 5-7 % of the server's CPU in bench runs. Fewer,
        # larger ones find the same cycles.
        gc.set_threshold(_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            access_log = getattr(app.state, "access_log", None)
            if access_log is not None:
                access_log.flush()
            await app.state.cache.close()
            if owned:
                await app.state.db.dispose()

    app = MercatoAPI(
        title="Mercato",
        version=mercato.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.migration_head = head_revision()
    app.state.known_revisions = known_revisions()
    app.state.keyring = KeyRing(signing_secret(settings), settings.previous_secret_keys)
    app.state.authenticator = TokenAuthenticator(app.state.keyring, settings)
    app.state.cache = build_cache(settings)
    register_app_cache(app.state.cache)
    app.state.storage = build_storage(settings)
    app.state.rate_limiter = build_rate_limiter(settings)
    if database is not None:
        app.state.db = database

    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(ops_router)
    for router in routers():
        app.include_router(router)
    skip_unreachable_routers(app.router)

    # GZip and CORS sit inside the request-context layer (MercatoAPI puts it outermost), so every
    # response, even a 500, carries the request id and security headers.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Retry-After", "Location"],
            max_age=600,
        )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with its default 422 body replaced by our problem+json shape."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for defn in components["Problem"].pop("$defs", {}).items():
        components[defn[0]] = defn[1]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
    app.openapi_schema = schema
    return schema
