from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

import httpx
import jwt
import pytest

from mercato.kit.settings import Settings
from mercato.modules.identity.tokens import issue_access_token


async def test_login_returns_a_working_token(client: httpx.AsyncClient, superuser: tuple[str, str]) -> None:
    email, password = superuser
    response = await client.post("/admin/auth/login", json={"email": email.upper(), "password": password})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    listed = await client.get("/admin/channels", headers={"authorization": f"Bearer {body['access_token']}"})
    assert listed.status_code == 200


async def test_wrong_password_and_unknown_email_are_indistinguishable(
    client: httpx.AsyncClient, superuser: tuple[str, str]
) -> None:
    email, _ = superuser
    wrong = await client.post("/admin/auth/login", json={"email": email, "password": "not the password"})
    unknown = await client.post("/admin/auth/login", json={"email": "ghost@example.com", "password": "whatever"})
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(wrong) == strip(unknown)


@pytest.mark.parametrize(
    "forge",
    [
        lambda s: jwt.encode({"sub": "x", "typ": "staff", "perms": ["*"], "iss": "mercato", "exp": 9999999999,
                              "iat": 1}, "", algorithm="none"),
        lambda s: issue_access_token("another-secret-that-is-long-enough-000000", subject="x", kind="staff",
                                     permissions=["*"], ttl=timedelta(minutes=5)),
        lambda s: issue_access_token(s.secret_key, subject="x", kind="staff", permissions=["*"],
                                     ttl=timedelta(seconds=-10)),
        lambda s: issue_access_token(s.secret_key, subject="x", kind="staff", permissions=["*"],
                                     ttl=timedelta(minutes=5))[:-4] + "AAAA",
    ],
    ids=["alg-none", "foreign-key", "expired", "tampered"],
)
async def test_forged_tokens_are_refused(
    client: httpx.AsyncClient, settings: Settings, forge: Callable[[Settings], str]
) -> None:
    response = await client.get("/admin/channels", headers={"authorization": f"Bearer {forge(settings)}"})
    assert response.status_code == 401
    assert response.json()["code"] == "auth.invalid_token"


def test_createsuperuser_command(fresh_database: Callable[[], str]) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_database()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mercato", "createsuperuser", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    created = run("--email", "Boss@Example.com", "--password", "a long enough passphrase")
    assert created.returncode == 0, created.stderr
    assert "boss@example.com" in created.stderr
    again = run("--email", "boss@example.com", "--password", "a long enough passphrase")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    short = run("--email", "x@example.com", "--password", "short")
    assert short.returncode == 2
