"""A rule every client-supplied string meets, whatever the route: no NUL characters (U+0000).

PostgreSQL cannot hold NUL in `text`/`varchar` (nor in `jsonb`), and cannot even compare a
parameter that contains one: a NUL that reaches a query fails it with a data exception (a 500,
after whatever the request did before that, such as counting a sign-in attempt). No field of the
API has a use for it, so the route class refuses it where requests come in, before any handler,
dependency or database session runs: 422 `validation.invalid` naming the query parameter or JSON
body field, code `nul_character`. One rule in one place instead of a validator on every string
field, which new endpoints would sooner or later forget.

Path parameters are left to their resources, which answer their own 404 (`role.not_found`,
`catalog.product_not_found`, ...) for a reference that cannot exist: ids are parsed as UUIDs
before any query, slugs and codes are checked by the module that looks them up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request

from mercato.kit.errors import FieldError, InvalidInput

NUL = "\x00"
CODE = "nul_character"
MESSAGE = "NUL characters (U+0000) are not allowed."


def _shown(name: str) -> str:
    return name.replace(NUL, "\\u0000")


def _nul_paths(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield ".".join(path) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = (*path, _shown(str(key)))
            if NUL in str(key):
                yield ".".join(inner)
            else:
                yield from _nul_paths(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, str(index)))


def check_query(request: Request) -> None:
    """Cheap on the common path: the raw query string is searched first."""
    raw_query: bytes = request.scope.get("query_string", b"")
    if b"%00" not in raw_query and b"\x00" not in raw_query:
        return
    fields = sorted({
        f"query.{_shown(name)}" for name, value in request.query_params.multi_items() if NUL in name or NUL in value
    })
    if fields:
        raise _invalid(fields)


async def check_json_body(request: Request) -> None:
    """Only a body with a `\\u0000` escape can decode to a NUL (a raw NUL byte is not JSON at all),
    so the body is parsed here only then, the way FastAPI parses it, to name the fields."""
    body = await request.body()  # cached on the request: the endpoint's parsing reuses it
    if b"\\u0000" not in body:
        return
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON the endpoint can parse either: it answers that (400)
    fields = sorted(set(_nul_paths(decoded, ())))
    if fields:
        raise _invalid(fields)


def _invalid(fields: list[str]) -> InvalidInput:
    return InvalidInput("The request has invalid fields.", errors=[FieldError(f, CODE, MESSAGE) for f in fields])
