"""Every error path answers RFC 9457 problem+json with a stable code."""

from __future__ import annotations

import httpx
import pytest

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/thing"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/readyz")
    assert_problem(response, 405, "request.method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/auth/login", content=b'{"email": "a@b.c",', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "request.malformed_json")


async def test_validation_is_422_with_field_pointers(client: httpx.AsyncClient) -> None:
    response = await client.post("/admin/auth/login", json={"email": 5})
    body = assert_problem(response, 422, "validation.invalid")
    fields = {e["field"]: e["code"] for e in body["errors"]}  # type: ignore[union-attr]
    assert fields == {"email": "string_type", "password": "missing"}


async def test_query_validation_names_the_parameter(client: httpx.AsyncClient, staff_token: str) -> None:
    response = await client.get("/admin/channels?limit=1000", headers={"authorization": f"Bearer {staff_token}"})
    body = assert_problem(response, 422, "validation.invalid")
    assert body["errors"][0]["field"] == "query.limit"  # type: ignore[index]


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/admin/auth/login", content=b"email=a", headers={"content-type": "text/plain"})
    assert_problem(response, 415, "request.unsupported_media_type")


async def test_oversized_body_is_413(client: httpx.AsyncClient, settings: object) -> None:
    big = b'{"email": "' + b"a" * 2_000_000 + b'", "password": "x"}'
    response = await client.post("/admin/auth/login", content=big, headers={"content-type": "application/json"})
    assert_problem(response, 413, "request.too_large")


async def test_oversized_streamed_body_without_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65_536

    response = await client.post("/admin/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413, "request.too_large")


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/channels")
    assert_problem(response, 401, "auth.unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/channels", headers={"authorization": "Bearer not.a.jwt"})
    assert_problem(response, 401, "auth.invalid_token")


@pytest.mark.parametrize("path", ["/admin/channels?cursor=%%%", "/admin/channels?cursor=WzEsMl0"])
async def test_bad_cursor_is_422(client: httpx.AsyncClient, staff_token: str, path: str) -> None:
    response = await client.get(path, headers={"authorization": f"Bearer {staff_token}"})
    assert_problem(response, 422, "pagination.invalid_cursor")


async def test_unhandled_exception_is_500_with_request_id_only(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    response = await client.get("/boom", headers={"x-request-id": "req-123"})
    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] == "req-123"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
