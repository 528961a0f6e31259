"""Access tokens: forged, tampered, expired and revoked tokens are refused with 401
problem+json; refresh tokens only work where they belong; signing keys rotate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules.identity.tokens import KeyRing, key_id
from tests.fixtures.http import bearer

PASSWORD = "velvet orbit thunder 42"
EMAIL = "tokens@example.com"
OTHER_SECRET = "another-secret-that-is-long-enough-00000000"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], key: bytes, digest: Any = hashlib.sha256) -> str:
    """A JWT assembled by hand, so the header can say anything (PyJWT refuses to write some)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def assert_401(response: httpx.Response, code: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == 401
    if code is not None:
        assert body["code"] == code


@pytest.fixture
async def signed_in(client: httpx.AsyncClient) -> dict[str, Any]:
    """A real customer session: its access token's claims are the template for forgeries."""
    assert (await client.post("/store/auth/register", json={"email": EMAIL, "password": PASSWORD})).status_code == 201
    response = await client.post("/store/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    pair: dict[str, Any] = response.json()
    pair["claims"] = jwt.decode(pair["access_token"], options={"verify_signature": False})
    pair["header"] = jwt.get_unverified_header(pair["access_token"])
    return pair


def genuine_claims(pair: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**pair["claims"], **changes}


Forgery = Callable[[Settings, dict[str, Any]], str]


def _tampered_signature(settings: Settings, pair: dict[str, Any]) -> str:
    token: str = pair["access_token"]
    head, _, signature = token.rpartition(".")
    swapped = "A" if signature[5] != "A" else "B"
    return f"{head}.{signature[:5]}{swapped}{signature[6:]}"


def _tampered_claims(settings: Settings, pair: dict[str, Any]) -> str:
    header, _, signature = pair["access_token"].split(".")
    claims = genuine_claims(pair, sub="00000000-0000-7000-8000-00000000abcd")
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


FORGERIES: dict[str, Forgery] = {
    "tampered-signature": _tampered_signature,
    "tampered-claims": _tampered_claims,
    "alg-none": lambda s, p: jwt.encode(genuine_claims(p), None, algorithm="none",
                                        headers={"kid": p["header"]["kid"]}),
    "alg-none-handmade": lambda s, p: (
        f"{b64(json.dumps({'alg': 'none', 'kid': p['header']['kid']}).encode())}."
        f"{b64(json.dumps(genuine_claims(p)).encode())}."
    ),
    "foreign-key-own-kid": lambda s, p: jwt.encode(genuine_claims(p), OTHER_SECRET, algorithm="HS256",
                                                   headers={"kid": key_id(OTHER_SECRET)}),
    "foreign-key-our-kid": lambda s, p: jwt.encode(genuine_claims(p), OTHER_SECRET, algorithm="HS256",
                                                   headers={"kid": p["header"]["kid"]}),
    "no-kid": lambda s, p: jwt.encode(genuine_claims(p), s.secret_key, algorithm="HS256"),
    # Algorithm confusion: an RS256 header over an HMAC made with the shared secret as the "public key".
    "rs256-header": lambda s, p: handmade({"alg": "RS256", "typ": "JWT", "kid": p["header"]["kid"]},
                                          genuine_claims(p), (s.secret_key or "").encode()),
    "hs512-right-key": lambda s, p: handmade({"alg": "HS512", "typ": "JWT", "kid": p["header"]["kid"]},
                                             genuine_claims(p), (s.secret_key or "").encode(), hashlib.sha512),
    "expired": lambda s, p: KeyRing(s.secret_key or "").issue(
        subject=p["claims"]["sub"], kind="customer", session_id=p["claims"]["sid"], permissions=[],
        ttl=timedelta(seconds=-30)),
    "no-session": lambda s, p: KeyRing(s.secret_key or "").issue(
        subject=p["claims"]["sub"], kind="customer", session_id=None, permissions=[], ttl=timedelta(minutes=5)),
    "unknown-session": lambda s, p: KeyRing(s.secret_key or "").issue(
        subject=p["claims"]["sub"], kind="customer", session_id="00000000-0000-7000-8000-0000000000ff",
        permissions=[], ttl=timedelta(minutes=5)),
    "malformed-session": lambda s, p: KeyRing(s.secret_key or "").issue(
        subject=p["claims"]["sub"], kind="customer", session_id="not-a-uuid", permissions=[],
        ttl=timedelta(minutes=5)),
    "wrong-kind": lambda s, p: KeyRing(s.secret_key or "").issue(
        subject=p["claims"]["sub"], kind="api_key", session_id=p["claims"]["sid"], permissions=[],
        ttl=timedelta(minutes=5)),
    "wrong-issuer": lambda s, p: jwt.encode(genuine_claims(p, iss="someone-else"), s.secret_key, algorithm="HS256",
                                            headers={"kid": p["header"]["kid"]}),
    "missing-exp": lambda s, p: jwt.encode({k: v for k, v in genuine_claims(p).items() if k != "exp"},
                                           s.secret_key, algorithm="HS256", headers={"kid": p["header"]["kid"]}),
    "refresh-token-as-access": lambda s, p: str(p["refresh_token"]),
    "garbage": lambda s, p: "not.a.jwt",
    "garbage-base64": lambda s, p: "eyJhbGciOi.eyJzdWIi.AAAA",
}


# Well signed (only a holder of the key could make these), but naming no live session.
SIGNED_FOR_NO_SESSION = {"unknown-session", "malformed-session"}


def test_the_genuine_token_is_what_the_forgeries_start_from(signed_in: dict[str, Any], settings: Settings) -> None:
    assert signed_in["header"] == {"alg": "HS256", "typ": "JWT", "kid": key_id(settings.secret_key or "")}
    assert {"sub", "sid", "typ", "iss", "iat", "exp", "jti"} <= set(signed_in["claims"])


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_forged_and_damaged_tokens_are_refused(
    client: httpx.AsyncClient, settings: Settings, signed_in: dict[str, Any], name: str
) -> None:
    forged = FORGERIES[name](settings, signed_in)
    assert forged != signed_in["access_token"]
    code = "auth.session_revoked" if name in SIGNED_FOR_NO_SESSION else "auth.invalid_token"
    assert_401(await client.get("/store/me", headers=bearer(forged)), code)
    # The genuine token still works: nothing above was refused by accident.
    assert (await client.get("/store/me", headers=bearer(signed_in["access_token"]))).status_code == 200


async def test_a_token_of_a_revoked_session_is_refused(client: httpx.AsyncClient, signed_in: dict[str, Any]) -> None:
    assert (await client.post("/store/auth/logout", headers=bearer(signed_in["access_token"]))).status_code == 204
    assert_401(await client.get("/store/me", headers=bearer(signed_in["access_token"])), "auth.session_revoked")


async def test_a_customer_refresh_token_does_not_work_for_staff(
    client: httpx.AsyncClient, signed_in: dict[str, Any]
) -> None:
    wrong_place = await client.post("/admin/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert_401(wrong_place, "auth.invalid_refresh_token")
    # Refused without being spent: its owner can still use it where it belongs.
    right_place = await client.post("/store/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert right_place.status_code == 200


async def test_a_staff_refresh_token_does_not_work_for_customers(
    client: httpx.AsyncClient, superuser: tuple[str, str]
) -> None:
    email, password = superuser
    staff = (await client.post("/admin/auth/login", json={"email": email, "password": password})).json()
    wrong_place = await client.post("/store/auth/refresh", json={"refresh_token": staff["refresh_token"]})
    assert_401(wrong_place, "auth.invalid_refresh_token")
    right_place = await client.post("/admin/auth/refresh", json={"refresh_token": staff["refresh_token"]})
    assert right_place.status_code == 200
    # A staff access token is no customer either.
    assert_401(await client.get("/store/me", headers=bearer(staff["access_token"])), "auth.unauthenticated")


async def test_a_customer_access_token_opens_no_admin_door(
    client: httpx.AsyncClient, signed_in: dict[str, Any]
) -> None:
    response = await client.get("/admin/me", headers=bearer(signed_in["access_token"]))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


# ---- key rotation -----------------------------------------------------------------------------

NEW_SECRET = "the-new-signing-secret-after-rotation-0000001"


@pytest.fixture
async def rotated(
    settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The app after a key rotation: signs with NEW_SECRET, still accepts the old key."""
    assert settings.secret_key
    tuned = settings.model_copy(update={"secret_key": NEW_SECRET, "previous_secret_keys": [settings.secret_key]})
    transport = httpx.ASGITransport(app=create_app(tuned, database=Database(engine_db.engine, sessionmaker)),
                                    raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_tokens_signed_before_a_rotation_keep_working(
    client: httpx.AsyncClient, rotated: httpx.AsyncClient, signed_in: dict[str, Any]
) -> None:
    # Issued by the app before the rotation, presented to the app after it.
    assert (await rotated.get("/store/me", headers=bearer(signed_in["access_token"]))).status_code == 200
    # New tokens carry the new key's id; the old app (no longer running in real life) refuses them.
    fresh = (await rotated.post("/store/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})).json()
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == key_id(NEW_SECRET)
    assert (await rotated.get("/store/me", headers=bearer(fresh["access_token"]))).status_code == 200
    assert_401(await client.get("/store/me", headers=bearer(fresh["access_token"])), "auth.invalid_token")


async def test_after_a_rotation_unknown_and_mismatched_keys_are_refused(
    rotated: httpx.AsyncClient, settings: Settings, signed_in: dict[str, Any]
) -> None:
    claims = signed_in["claims"]
    retired = "a-key-retired-long-ago-and-no-longer-listed-000"
    unknown_kid = KeyRing(retired).issue(subject=claims["sub"], kind="customer", session_id=claims["sid"],
                                         permissions=[], ttl=timedelta(minutes=5))
    assert_401(await rotated.get("/store/me", headers=bearer(unknown_kid)), "auth.invalid_token")
    # Right kid, wrong key: the kid only picks the key, it proves nothing.
    mislabelled = jwt.encode(claims, retired, algorithm="HS256", headers={"kid": key_id(NEW_SECRET)})
    assert_401(await rotated.get("/store/me", headers=bearer(mislabelled)), "auth.invalid_token")
    old_key_new_kid = jwt.encode(claims, settings.secret_key, algorithm="HS256", headers={"kid": key_id(NEW_SECRET)})
    assert_401(await rotated.get("/store/me", headers=bearer(old_key_new_kid)), "auth.invalid_token")
