"""Object-level authorisation on every /store/me route that names an object in its path.

Customer B presenting customer A's ids gets exactly what an unknown id gets — 404, never 403 (which
would confirm that the object exists) — and A's data is unchanged. The same request by A succeeds,
which proves each case really reaches its route. The route table is enumerated, so a new /store/me
route with a path parameter fails `test_every_route_with_a_path_parameter_has_a_case` until a case
for it is added below.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.catalog.factories import make_product, refresh

PASSWORD = "a long enough passphrase"
BERLIN = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Heidestraße 17", "city": "Berlin",
          "postal_code": "10557", "country_code": "DE"}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the route's path template
    body: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


CASES = [
    Case("GET", "/store/me/addresses/{address_id}"),
    Case("PATCH", "/store/me/addresses/{address_id}", {"city": "Hamburg", "postal_code": "20095"}),
    Case("DELETE", "/store/me/addresses/{address_id}"),
    Case("GET", "/store/me/wishlists/{wishlist_id}"),
    Case("PATCH", "/store/me/wishlists/{wishlist_id}", {"name": "Mine now"}),
    Case("DELETE", "/store/me/wishlists/{wishlist_id}"),
    Case("POST", "/store/me/wishlists/{wishlist_id}/items", {"variant_id": str(uuid.uuid4())}),
    Case("DELETE", "/store/me/wishlists/{wishlist_id}/items/{variant_id}"),
    Case("DELETE", "/store/me/sessions/{session_id}"),
    Case("GET", "/store/me/reviews/{review_id}"),
    Case("PATCH", "/store/me/reviews/{review_id}", {"rating": 2, "title": "Changed my mind"}),
    Case("DELETE", "/store/me/reviews/{review_id}"),
]


def flat_routes(app: FastAPI) -> Iterator[tuple[str, set[str]]]:
    """(full path, methods) of every APIRoute. FastAPI >= 0.16x keeps included routers as nodes of
    app.routes; its iter_route_contexts flattens them."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, set(route.methods or ())
        return
    for context in iterate(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield str(context.path), set(context.methods or ())


def me_routes_with_path_parameters(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, methods in flat_routes(app)
        if path.startswith("/store/me") and "{" in path
        for method in methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_with_a_path_parameter_has_a_case(app: FastAPI) -> None:
    routes = me_routes_with_path_parameters(app)
    cases = {(case.method, case.path) for case in CASES}
    assert routes - cases == set(), "add an object-access case for these /store/me routes"
    assert cases - routes == set(), "these cases name routes that no longer exist"


async def sign_in(client: httpx.AsyncClient, email: str, *, register: bool = True) -> tuple[dict[str, str], str]:
    """Returns (auth headers, the session id of this sign-in)."""
    if register:
        registered = await client.post("/store/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
    login = await client.post("/store/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"authorization": f"Bearer {login.json()['access_token']}"}
    current = [s["id"] for s in (await client.get("/store/me/sessions", headers=auth)).json()["items"] if s["current"]]
    return auth, current[0]


@dataclass(frozen=True)
class Owner:
    auth: dict[str, str]
    customer_id: str
    ids: dict[str, str]  # path parameter name -> one of the owner's objects


async def owner_with_data(client: httpx.AsyncClient, session: AsyncSession) -> Owner:
    product = await make_product(session, "Reviewed mug", prices={"web-eu": 900})
    await refresh(session, [product])
    await session.commit()
    auth, _ = await sign_in(client, "alice@example.com")
    _, other_session = await sign_in(client, "alice@example.com", register=False)  # a second device
    address = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, "is_default_shipping": True})
    wishlist = await client.post("/store/me/wishlists", headers=auth, json={"name": "Birthday"})
    variant = str(uuid.uuid4())
    item = await client.post(f"/store/me/wishlists/{wishlist.json()['id']}/items", headers=auth,
                             json={"variant_id": variant, "note": "size 38"})
    review = await client.post(f"/store/products/{product.slug}/reviews", headers=auth,
                               json={"rating": 5, "title": "Lovely mug"})
    assert (address.status_code, wishlist.status_code, item.status_code, review.status_code) == (201,) * 4
    customer_id = (await client.get("/store/me", headers=auth)).json()["id"]
    return Owner(auth, customer_id, {"address_id": address.json()["id"], "wishlist_id": wishlist.json()["id"],
                                     "variant_id": variant, "session_id": other_session,
                                     "review_id": review.json()["id"]})


async def snapshot(session: AsyncSession, customer_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the owner's data, read straight from the database."""
    params = {"id": uuid.UUID(customer_id)}
    queries = {
        "customer": "SELECT * FROM customers WHERE id = :id",
        "addresses": "SELECT * FROM customer_addresses WHERE customer_id = :id ORDER BY id",
        "wishlists": "SELECT * FROM wishlists WHERE customer_id = :id ORDER BY id",
        "items": "SELECT i.* FROM wishlist_items i JOIN wishlists w ON w.id = i.wishlist_id"
                 " WHERE w.customer_id = :id ORDER BY i.wishlist_id, i.variant_id",
        "reviews": "SELECT * FROM reviews WHERE customer_id = :id ORDER BY id",
        "sessions": "SELECT id, revoked_at, revoke_reason FROM auth_sessions"
                    " WHERE subject_kind = 'customer' AND subject_id = :id ORDER BY id",
    }
    taken = {name: [tuple(row) for row in (await session.execute(text(sql), params)).all()]
             for name, sql in queries.items()}
    await session.commit()
    return taken


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_another_customers_object_is_not_found_and_untouched(
    client: httpx.AsyncClient, session: AsyncSession, case: Case,
) -> None:
    alice = await owner_with_data(client, session)
    mallory, _ = await sign_in(client, "mallory@example.com")
    before = await snapshot(session, alice.customer_id)
    assert all(before.values())  # Alice really has rows of every kind

    url = case.path.format(**alice.ids)
    attempt = await client.request(case.method, url, headers=mallory, json=case.body)
    assert attempt.status_code == 404, attempt.text
    assert attempt.json()["code"].endswith("not_found")
    # Indistinguishable from an id that does not exist at all: no existence oracle.
    unknown_url = case.path.format(**{name: str(uuid.uuid4()) for name in alice.ids})
    unknown = await client.request(case.method, unknown_url, headers=mallory, json=case.body)
    assert without_request_id(unknown) == without_request_id(attempt)

    assert await snapshot(session, alice.customer_id) == before
    # The very same request by the owner works, so the 404 above came from the ownership check.
    own = await client.request(case.method, url, headers=alice.auth, json=case.body)
    assert own.status_code < 300, own.text
