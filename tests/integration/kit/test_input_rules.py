"""Request-wide input rules (kit.web.inputs) and the safety net under validation (app/errors.py):
values PostgreSQL cannot take are the client's error, 422 before anything runs, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import ClientDatetime
from mercato.kit.metrics import INPUT_REFUSED_BY_DATABASE
from mercato.kit.web.routing import MercatoRoute, get_session

PROBLEM = "application/problem+json"


class Note(BaseModel):
    title: str
    tags: list[str] = []
    meta: dict[str, str] = {}


def _mount(app: FastAPI, ran: list[str]) -> None:
    router = APIRouter(route_class=MercatoRoute)

    @router.get("/things/{ref}")
    async def read(ref: str, q: str | None = None) -> dict[str, str | None]:
        ran.append(ref)
        return {"ref": ref, "q": q}

    @router.post("/notes", status_code=201)
    async def create(note: Note) -> Note:
        ran.append(note.title)
        return note

    @router.delete("/notes")
    async def delete(note: Note) -> Note:  # a body on DELETE, as DELETE /store/me has
        ran.append(note.title)
        return note

    # Values that reach the database unvalidated, as an endpoint missing a rule would send them.
    unchecked = {
        "too-long": ("INSERT INTO currencies (code, name, exponent) VALUES (:v, 'x', 2)", "ABCDEF"),
        "nul": ("SELECT CAST(:v AS text)", "a\x00b"),
        "int-range": ("SELECT CAST(CAST(:v AS bigint) AS integer)", 2**40),
        "bigint-overflow": ("SELECT CAST(:v AS bigint)", 2**70),
        "division": ("SELECT 1 / CAST(:v AS integer)", 0),
    }

    @router.post("/unchecked/{kind}")
    async def store(kind: str, session: AsyncSession = Depends(get_session)) -> dict[str, str]:
        sql, value = unchecked[kind]
        await session.execute(text(sql), {"v": value})
        return {"stored": kind}

    app.include_router(router)


@pytest.fixture
def ran(app: FastAPI) -> list[str]:
    calls: list[str] = []
    _mount(app, calls)
    return calls


def assert_invalid(response: httpx.Response, fields: list[str]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "validation.invalid"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(f, "nul_character") for f in fields]


async def test_nul_in_a_query_parameter_is_422_naming_it(client: httpx.AsyncClient, ran: list[str]) -> None:
    assert_invalid(await client.get("/things/a?q=x%00y"), ["query.q"])
    assert (await client.get("/things/a?q=x%2500y")).json()["q"] == "x%00y", "an encoded percent sign is fine"
    assert ran == ["a"]


async def test_a_path_parameter_is_left_to_its_resource(client: httpx.AsyncClient, ran: list[str]) -> None:
    """Resources answer their own 404 for references that cannot exist (role.not_found, ...)."""
    assert (await client.get("/things/a%00b")).status_code == 200
    assert ran == ["a\x00b"]


async def test_nul_anywhere_in_a_json_body_is_422_with_field_paths(client: httpx.AsyncClient, ran: list[str]) -> None:
    body = {"title": "a\x00", "tags": ["ok", "b\x00"], "meta": {"k": "\x00", "k\x00": "v"}}
    assert_invalid(await client.post("/notes", json=body), ["meta.k", "meta.k\\u0000", "tags.1", "title"])
    assert_invalid(await client.request("DELETE", "/notes", json={"title": "\x00"}), ["title"])
    assert ran == []


async def test_an_escaped_backslash_before_u0000_is_plain_text(client: httpx.AsyncClient, ran: list[str]) -> None:
    response = await client.post("/notes", content=rb'{"title": "C:\\u0000"}',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "C:\\u0000"


async def test_malformed_json_is_still_400(client: httpx.AsyncClient, ran: list[str]) -> None:
    response = await client.post("/notes", content=b'{"title": "\\u0000', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "request.malformed_json"


def _refused(sqlstate: str) -> float:
    return sum(sample.value for metric in INPUT_REFUSED_BY_DATABASE.collect() for sample in metric.samples
               if sample.name.endswith("_total") and sample.labels.get("sqlstate") == sqlstate)


@pytest.mark.parametrize(("kind", "sqlstate"), [
    ("too-long", "22001"), ("nul", "22021"), ("int-range", "22003"), ("bigint-overflow", "22000"),
])
async def test_a_value_only_the_database_refuses_is_422_and_counted(
    client: httpx.AsyncClient, ran: list[str], kind: str, sqlstate: str
) -> None:
    before = _refused(sqlstate)
    response = await client.post(f"/unchecked/{kind}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "validation.invalid"
    assert _refused(sqlstate) == before + 1


async def test_other_data_exceptions_stay_server_errors(client: httpx.AsyncClient, ran: list[str]) -> None:
    response = await client.post("/unchecked/division")
    assert response.status_code == 500, "a bug of ours must not pass for the client's mistake"
    assert response.json()["code"] == "internal_error"


def test_client_datetimes_move_to_utc_and_refuse_what_utc_cannot_hold() -> None:
    adapter: TypeAdapter[datetime] = TypeAdapter(ClientDatetime)
    assert adapter.validate_python("2030-01-01T05:00:00+05:00") == datetime(2030, 1, 1, tzinfo=UTC)
    assert adapter.validate_python("2030-01-01T00:00:00").tzinfo is None, "naive ones are the caller's to refuse"
    for edge in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"):
        with pytest.raises(ValidationError, match="datetime_out_of_range"):
            adapter.validate_python(edge)
