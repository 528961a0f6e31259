"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

For every operation, Hypothesis draws requests that fit the schema (positive) and requests that
break it (negative: wrong types, out-of-range numbers, overlong strings, NUL characters, ids that
are not ids, bodies that are not JSON, ...). Each is sent anonymously, with a staff token holding
every permission, and with a customer's token. The contract (docs/ API conventions): no answer is a
server error, and every error is `application/problem+json` with a stable `code`. And every value
that the database cannot take must be refused by validation, not by the database (the 422 safety
net in app/errors.py must never have to fire).

The app runs on a committed database of its own (a copy of the migrated template, dropped at the
end: nothing reaches the shared test database) with a real connection pool, so writes commit and
later requests see them; identities the fuzz signs out (logout, revoked sessions) sign in again.
Hypothesis is derandomized and bounded: every run sends the same few thousand requests, and a fuzz
dictionary of values the database cannot take is mixed into every parameter. Locally,
`FUZZ_EXAMPLES=200 pytest tests/e2e/test_fuzz_openapi.py --timeout=0` digs deeper.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.metrics import INPUT_REFUSED_BY_DATABASE
from mercato.kit.settings import Settings
from mercato.modules import channels, identity
from tests.fixtures.databases import TestDatabases
from tests.fixtures.live import register_and_login

PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery staple"
STAFF_EMAIL = "fuzz-owner@example.com"
BASE_URL = "http://test"
IDENTITIES = ("anonymous", "staff", "customer")
# Where each signed-in identity checks that it still is.
PROBES = {"staff": "/admin/me", "customer": "/store/me"}
# Per operation and generation mode; about 70 operations x 2 modes x 3 identities.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run and machine: a CI failure reproduces locally
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

# A fuzz dictionary (schemathesis' "dictionaries"): values PostgreSQL or its driver cannot take,
# mixed into every parameter and top-level body field at PROBABILITY, so that the bounded run
# tries them everywhere instead of waiting for Hypothesis to stumble on them. Schemathesis uses
# each entry in the mode it fits: a NUL for a free string is a "valid" value, 2**63 for `limit`
# an invalid one.
HOSTILE = [
    "\x00", "NUL\x00inside",  # PostgreSQL text cannot hold NUL, nor compare with it
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",  # valid RFC 3339, beyond year 1..9999 in UTC
    "x" * 2000,  # longer than any varchar column
    2**63, -(2**63) - 1,  # just beyond int64
]
PROBABILITY = 0.1

T = TypeVar("T")


def fuzz_config(document: dict[str, Any]) -> SchemathesisConfig:
    """Bind HOSTILE to every query and path parameter and every top-level JSON body field of the
    document (headers cannot carry these through a real HTTP server)."""

    def plain(schema: Any) -> bool:
        # schemathesis 4.32 cannot classify entries against a schema with a $ref (an enum, a nested
        # object); those values are not free text anyway.
        return "$ref" not in json.dumps(schema)

    bindings: set[str] = set()
    schemas = document.get("components", {}).get("schemas", {})
    for path_item in document["paths"].values():
        for operation in path_item.values():
            bindings.update(f"{p['in']}.{p['name']}" for p in operation.get("parameters", [])
                            if p["in"] in ("query", "path") and plain(p.get("schema")))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            properties = schemas.get(ref.rpartition("/")[2], {}).get("properties", {})
            bindings.update(f"body.{name}" for name, schema in properties.items() if plain(schema))
    return SchemathesisConfig.from_dict({
        "dictionaries": {"hostile": {"values": HOSTILE}},
        "parameters": {key: {"dictionary": "hostile", "probability": PROBABILITY} for key in sorted(bindings)},
    })


@dataclass
class FuzzTarget:
    """The app on a committed database, driven through a private event loop (Hypothesis is sync):
    the pool's connections live on that loop from the first request to dispose()."""

    portal: BlockingPortal
    client: httpx.AsyncClient
    schema: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self.portal.call(func, *args)

    def auth_headers(self, identity_name: str) -> dict[str, str]:
        token = self.tokens.get(identity_name)
        return {"authorization": f"Bearer {token}"} if token else {}

    def send(self, case: schemathesis.Case, identity_name: str) -> httpx.Response:
        # schemathesis serializes for `requests`; the same arguments, in httpx's words.
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=self.auth_headers(identity_name))
        content = kwargs.get("data")
        if content is not None and not isinstance(content, bytes | str):
            raise TypeError(f"a form body {content!r}: the API takes JSON only")
        headers = dict(kwargs.get("headers") or {})
        if kwargs.get("cookies"):
            headers["cookie"] = "; ".join(f"{name}={value}" for name, value in kwargs["cookies"].items())
        request = self.client.build_request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                                            headers=headers, json=kwargs.get("json"), content=content)
        return self.run(self.client.send, request)

    def keep_signed_in(self, identity_name: str) -> None:
        """Sign in again if the last request signed the identity out."""
        probe = PROBES.get(identity_name)
        if probe is None:
            return
        request = self.client.build_request("GET", probe, headers=self.auth_headers(identity_name))
        if self.run(self.client.send, request).status_code == 401:
            self.tokens[identity_name] = self.run(_sign_in, self.client, identity_name)


async def _sign_in(client: httpx.AsyncClient, identity_name: str) -> str:
    if identity_name == "customer":
        pair = await register_and_login(client, f"fuzz-{uuid.uuid4().hex[:12]}@example.com", PASSWORD)
        return str(pair["access_token"])
    response = await client.post("/admin/auth/login", json={"email": STAFF_EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _seed(db: Database) -> None:
    """The base channels (so storefront reads get past channel resolution) and a superuser."""
    async with db.sessionmaker() as session:
        await channels.seed_base(session)
        await identity.create_superuser(session, email=STAFF_EMAIL, password=PASSWORD)
        await session.commit()


async def _client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=30)


@pytest.fixture(scope="module")
def fuzz_target(databases: TestDatabases, settings: Settings) -> Iterator[FuzzTarget]:
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    url = databases.create(name)
    tuned = settings.model_copy(update={
        "database_url": url, "db_statement_timeout_ms": 5000,
        "rate_limit_login": "10000/minute", "rate_limit_register": "10000/minute",
    })
    httpx_logger = logging.getLogger("httpx")
    httpx_level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)  # one INFO line per request would drown a failure's output
    db = Database.connect(url, tuned, pool_size=2, max_overflow=2)
    try:
        app = create_app(tuned, database=db)
        # The ASGI loader reads /openapi.json from the app object: the document clients are given.
        # (It runs the app's lifespan in schemathesis' own event loop; with the database passed in,
        # that lifespan holds no connection.) Requests then go through the private loop below.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=fuzz_config(app.openapi()))
        with start_blocking_portal() as portal:
            client = portal.call(_client, app)
            target = FuzzTarget(portal, client, schema)
            try:
                target.run(_seed, db)
                for identity_name in PROBES:
                    target.tokens[identity_name] = target.run(_sign_in, client, identity_name)
                yield target
            finally:
                portal.call(client.aclose)
                portal.call(db.dispose)
    finally:
        httpx_logger.setLevel(httpx_level)
        databases.drop(name)


def problems_in(response: httpx.Response) -> list[str]:
    status = response.status_code
    if status >= 500:
        return [f"server error {status}"]
    if status < 400:
        return []
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith(PROBLEM):
        return [f"error {status} is {content_type or 'untyped'}, not {PROBLEM}"]
    try:
        body = response.json()
    except ValueError:
        return [f"error {status} has a body that is not JSON"]
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"]:
        return [f"error {status} has no `code`"]
    if body.get("status") != status:
        return [f"error {status} says status {body.get('status')!r}"]
    return []


def _describe(exc: BaseException) -> str:
    """A failure with what Hypothesis wraps in groups (flaky failures, several distinct bugs)."""
    if isinstance(exc, BaseExceptionGroup):
        return "\n".join([str(exc), *(_describe(inner) for inner in exc.exceptions)])
    return str(exc)


def _refused_by_database() -> float:
    return sum(sample.value for metric in INPUT_REFUSED_BY_DATABASE.collect() for sample in metric.samples
               if sample.name.endswith("_total"))


# A few thousand requests per identity: about 3 minutes on a quiet machine, past the suite's
# 300 s default on a busy one (where the timeout firing inside the app's loop showed as an
# "unraisable exception", not as the timeout it was).
@pytest.mark.timeout(900)
@pytest.mark.parametrize("identity_name", IDENTITIES)
def test_no_server_errors_and_every_error_is_a_problem(fuzz_target: FuzzTarget, identity_name: str) -> None:
    operations = [result.ok() for result in fuzz_target.schema.get_all_operations()]
    assert len(operations) > 50, "the OpenAPI document lost its operations"
    failures: dict[str, str] = {}
    succeeded: dict[str, int] = defaultdict(int)

    for operation, mode in itertools.product(operations, GenerationMode):

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            refused_before = _refused_by_database()
            response = fuzz_target.send(case, identity_name)
            found = problems_in(response)
            if _refused_by_database() != refused_before:
                found.append("only the database refused a value (the safety net answered 422): validate it")
            if response.is_success:
                succeeded[case.operation.label] += 1
                if case.method.upper() not in ("GET", "HEAD"):
                    fuzz_target.keep_signed_in(identity_name)
            assert not found, (
                f"{'; '.join(found)} (as {identity_name})\n{case.as_curl_command(base_url=BASE_URL)}\n"
                f"-> {response.status_code} {response.headers.get('content-type')}: {response.text[:500]}"
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing about the operation can be invalid (no parameters, or free-form strings only).
            assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
        except Exception as exc:  # every failing operation, not just the first, then one failure
            failures[f"{operation.label} ({mode.value})"] = _describe(exc)

    assert not failures, f"{len(failures)} operation(s) failed as {identity_name}:\n\n" + "\n\n".join(
        f"## {label}\n{detail}" for label, detail in failures.items()
    )
    # The fuzz reached past authentication: a signed-in identity that silently lost its token
    # would test little more than 401s.
    reached = {label for label, count in succeeded.items() if count}
    if identity_name != "anonymous":
        own = "/admin/" if identity_name == "staff" else "/store/me"
        assert len({label for label in reached if own in label}) >= 5, sorted(reached)
