"""Every /admin route declares a permission and refuses callers without it.

The routes are read from the app itself, so a route added later is checked without editing this
file. Exempt: sign-in (/admin/auth/*), the caller's own profile (/admin/me) and two-factor
enrolment (/admin/me/mfa*), which any signed-in staff user may use.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import fastapi.routing
import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from mercato.kit.settings import Settings
from mercato.modules.identity.permissions import ALL, PERMISSIONS
from mercato.modules.identity.tokens import issue_access_token
from tests.fixtures.auth import staff_token_for
from tests.fixtures.test_session import TEST_SESSION_ID

_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _exempt(path: str) -> bool:
    return path.startswith("/admin/auth/") or path == "/admin/me" or path.startswith("/admin/me/mfa")


def required_permissions(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, "required_permission", None)
        if isinstance(permission, str):
            found.add(permission)
        found |= required_permissions(dependency)
    return found


def flat_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """(path, methods, dependant) of every APIRoute, nested routers included. FastAPI >= 0.16x keeps
    included routers as nodes in app.routes; its iter_route_contexts flattens them, with the full
    path and the dependencies the include added."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, set(route.methods), route.dependant
        return
    for context in iterate(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield str(context.path), set(context.methods or ()), context.dependant


def admin_routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    for path, methods, dependant in flat_routes(app):
        if path.startswith("/admin") and not _exempt(path):
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                yield method, path, dependant


def concrete(path: str) -> str:
    return _PARAM.sub(lambda _: str(uuid.uuid4()), path)


async def call(client: httpx.AsyncClient, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"json": {}} if method in _BODY_METHODS else {}
    return await client.request(method, concrete(path), headers=headers, **body)


def test_the_walk_finds_the_admin_routes(app: FastAPI) -> None:
    paths = {(method, path) for method, path, _ in admin_routes(app)}
    # A sample that must be there; the list itself grows with every module.
    for expected in [("GET", "/admin/staff"), ("PATCH", "/admin/roles/{role_id}"),
                     ("DELETE", "/admin/api-keys/{key_id}"), ("GET", "/admin/audit-log"),
                     ("GET", "/admin/permissions"), ("GET", "/admin/channels")]:
        assert expected in paths
    assert not any(_exempt(path) for _, path in paths)
    assert ("POST", "/admin/auth/login") not in paths
    assert ("POST", "/admin/me/mfa/totp") not in paths


def test_every_admin_route_declares_a_known_permission(app: FastAPI) -> None:
    missing = [f"{method} {path}" for method, path, dependant in admin_routes(app)
               if not required_permissions(dependant)]
    assert missing == [], "admin routes without require_permission(...)"
    unknown = {
        f"{method} {path}": sorted(perms - set(PERMISSIONS))
        for method, path, dependant in admin_routes(app)
        if (perms := required_permissions(dependant)) - set(PERMISSIONS)
    }
    assert unknown == {}, "permissions missing from the catalogue (permissions.PERMISSIONS)"


async def test_every_admin_route_refuses_a_staff_user_without_its_permission(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    token = staff_token_for(settings, ["some:other"])
    wrong: dict[str, object] = {}
    for method, path, _ in admin_routes(app):
        response = await call(client, method, path, token)
        if response.status_code != 403 or response.json().get("code") != "auth.forbidden":
            wrong[f"{method} {path}"] = (response.status_code, response.text[:200])
    assert wrong == {}


async def test_every_admin_route_refuses_an_anonymous_caller(app: FastAPI, client: httpx.AsyncClient) -> None:
    wrong: dict[str, object] = {}
    for method, path, _ in admin_routes(app):
        response = await call(client, method, path, None)
        if response.status_code != 401 or response.headers.get("www-authenticate") != "Bearer":
            wrong[f"{method} {path}"] = (response.status_code, response.text[:200])
    assert wrong == {}


async def test_the_declared_permission_is_the_one_that_opens_the_route(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    """With exactly the declared permissions the guard lets the call through (whatever the handler
    then says about a random id or an empty body): the declaration is what is enforced."""
    wrong: dict[str, object] = {}
    for method, path, dependant in admin_routes(app):
        token = staff_token_for(settings, sorted(required_permissions(dependant)))
        response = await call(client, method, path, token)
        if response.status_code in (401, 403) or response.status_code >= 500:
            wrong[f"{method} {path}"] = (response.status_code, response.text[:200])
    assert wrong == {}


async def test_a_customer_token_opens_no_admin_route(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.secret_key
    # Validly signed, and even claiming every permission: still a customer.
    token = issue_access_token(settings.secret_key, subject=str(uuid.uuid4()), kind="customer", permissions=[ALL],
                               ttl=timedelta(minutes=5), session_id=str(TEST_SESSION_ID))
    wrong: dict[str, object] = {}
    for method, path, _ in admin_routes(app):
        response = await call(client, method, path, token)
        if response.status_code != 403:
            wrong[f"{method} {path}"] = (response.status_code, response.text[:200])
    assert wrong == {}
