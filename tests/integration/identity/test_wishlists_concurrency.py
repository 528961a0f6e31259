"""Wishlists under real concurrency (a committed database and a real connection pool)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
from sqlalchemy import text

from tests.fixtures.live import Live, register_and_login

PASSWORD = "a long enough passphrase"




async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    tokens = await register_and_login(client, email, PASSWORD)
    return {"authorization": f"Bearer {tokens['access_token']}"}


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
