"""The router guards (`app.route_index`) change how fast a route is found, never which one: for a
path made from every route of the app, with its own method and with another, the first router
that matches — and how — is the same as without them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from mercato.app import create_app
from mercato.app.route_index import literal_prefixes, skip_unreachable_routers

_PARAM = re.compile(r"{([^}:]+)(?::([^}]+))?}")
_SAMPLES = {None: "x1", "str": "x1", "int": "7", "float": "1.5", "path": "a/b",
            "uuid": "0b7d1d2a-8a44-4a0e-9c57-3c1d1e0f7a11"}


def _sample(path_format: str) -> str:
    return _PARAM.sub(lambda m: _SAMPLES[m.group(2)], path_format)


def _first_match(app: FastAPI, path: str, method: str, *, root_path: str = "") -> tuple[int, Match] | None:
    scope: dict[str, Any] = {"type": "http", "path": root_path + path, "root_path": root_path, "method": method,
                             "headers": [], "query_string": b""}
    for index, route in enumerate(app.router.routes):
        match, _ = route.matches(scope)
        if match != Match.NONE:
            return index, match
    return None


def _requests(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if contexts else []:
            if isinstance(context.original_route, APIRoute):
                path = _sample(context.path_format)
                methods = sorted(context.original_route.methods or {"GET"})
                found += [(path, methods[0]), (path, "DELETE" if "DELETE" not in methods else "PUT"),
                          (path + "/", methods[0]), (path.rstrip("/") + "/nope", "GET")]
    return [*found, ("/", "GET"), ("/nowhere", "GET"), ("/store", "GET"), ("", "GET")]


@pytest.fixture(scope="module")
def apps() -> tuple[FastAPI, FastAPI]:
    guarded = create_app()
    plain = create_app()
    for route in plain.router.routes:
        vars(route).pop("matches", None)  # the class's own matching again
    return guarded, plain


def test_every_route_is_found_as_without_guards(apps: tuple[FastAPI, FastAPI]) -> None:
    guarded, plain = apps
    assert any("matches" in vars(route) for route in guarded.router.routes)
    requests = _requests(plain)
    assert len(requests) > 500
    for path, method in requests:
        for root_path in ("", "/shop"):
            assert _first_match(guarded, path, method, root_path=root_path) == \
                _first_match(plain, path, method, root_path=root_path), (root_path, path, method)


def test_a_guard_answers_no_match_without_trying_the_routes(apps: tuple[FastAPI, FastAPI]) -> None:
    guarded, _ = apps
    checkout = next(route for route in guarded.router.routes
                    if "/store/carts/" in (literal_prefixes(route) or ()))
    scope = {"type": "http", "path": "/admin/products", "root_path": "", "method": "GET"}
    assert checkout.matches(scope) == (Match.NONE, {})


def test_routers_that_cannot_be_read_are_left_alone() -> None:
    app = FastAPI()
    app.mount("/static", FastAPI())
    skip_unreachable_routers(app.router)
    assert literal_prefixes(app.router.routes[-1]) is None
    assert all("matches" not in vars(route) for route in app.router.routes)
