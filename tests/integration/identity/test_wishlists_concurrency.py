"""Wishlists under real concurrency (a committed database and a real connection pool)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from mercato.app import create_app
from mercato.kit.db import Database
from mercato.kit.settings import Settings

PASSWORD = "a long enough passphrase"


@dataclass
class Live:
    client: httpx.AsyncClient
    db: Database


@pytest.fixture
async def live(settings: Settings, fresh_database: Callable[[], str]) -> AsyncIterator[Live]:
    tuned = settings.model_copy(update={"db_statement_timeout_ms": 5000, "rate_limit_login": "1000/minute",
                                        "rate_limit_register": "1000/minute"})
    db = Database.connect(fresh_database(), tuned)
    transport = httpx.ASGITransport(app=create_app(tuned, database=db), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
            yield Live(client, db)
    finally:
        await db.dispose()


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    assert (await client.post("/store/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
    login = await client.post("/store/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['access_token']}"}


async def test_concurrent_creates_of_one_name_make_one_wishlist(live: Live) -> None:
    auth = await sign_in(live.client, "wish@example.com")
    names = ["Birthday", "birthday", "BIRTHDAY", " Birthday "] * 2
    responses = await asyncio.gather(*(live.client.post("/store/me/wishlists", headers=auth, json={"name": name})
                                       for name in names))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 7}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"wishlist.name_taken"}
    assert len((await live.client.get("/store/me/wishlists", headers=auth)).json()["items"]) == 1


async def test_concurrent_adds_of_one_variant_make_one_item(live: Live) -> None:
    auth = await sign_in(live.client, "wish@example.com")
    wishlist = (await live.client.post("/store/me/wishlists", headers=auth, json={"name": "Later"})).json()
    variant = str(uuid.uuid4())
    responses = await asyncio.gather(*(
        live.client.post(f"/store/me/wishlists/{wishlist['id']}/items", headers=auth, json={"variant_id": variant})
        for _ in range(8)
    ))
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 7}
    async with live.db.sessionmaker() as s:
        count = await s.scalar(text("SELECT count(*) FROM wishlist_items WHERE wishlist_id = :id"),
                               {"id": uuid.UUID(wishlist["id"])})
    assert count == 1
