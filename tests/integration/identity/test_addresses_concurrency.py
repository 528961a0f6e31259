"""The address book under real concurrency: a committed database and a real connection pool, so
concurrent requests are concurrent transactions (the rolled-back per-test transaction of the other
tests runs everything on one connection, which hides races)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
from sqlalchemy import text

from mercato.kit.clock import utcnow
from mercato.kit.db import Database
from mercato.modules.identity.addresses import MAX_ADDRESSES
from mercato.modules.identity.models import Address
from tests.fixtures.live import Live, register_and_login

PASSWORD = "a long enough passphrase"
BERLIN = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Heidestraße 17", "city": "Berlin",
          "postal_code": "10557", "country_code": "DE"}




async def sign_in(client: httpx.AsyncClient, email: str) -> tuple[dict[str, str], uuid.UUID]:
    tokens = await register_and_login(client, email, PASSWORD)
    auth = {"authorization": f"Bearer {tokens['access_token']}"}
    return auth, uuid.UUID((await client.get("/store/me", headers=auth)).json()["id"])


async def addresses_of(db: Database, customer_id: uuid.UUID) -> list[tuple[bool, bool]]:
    async with db.sessionmaker() as s:
        rows = await s.execute(text("SELECT is_default_shipping, is_default_billing FROM customer_addresses"
                                    " WHERE customer_id = :id"), {"id": customer_id})
        return [(row[0], row[1]) for row in rows]


async def test_concurrent_new_defaults_leave_exactly_one(live: Live) -> None:
    auth, customer_id = await sign_in(live.client, "erika@example.com")
    responses = await asyncio.gather(*(
        live.client.post("/store/me/addresses", headers=auth,
                         json={**BERLIN, "is_default_shipping": True, "is_default_billing": i % 2 == 0})
        for i in range(8)
    ))
    assert [r.status_code for r in responses] == [201] * 8
    flags = await addresses_of(live.db, customer_id)
    assert len(flags) == 8
    assert sum(shipping for shipping, _ in flags) == 1
    assert sum(billing for _, billing in flags) == 1


async def test_concurrent_creates_never_pass_the_limit(live: Live) -> None:
    auth, customer_id = await sign_in(live.client, "erika@example.com")
    now = utcnow()
    async with live.db.sessionmaker() as s, s.begin():
        s.add_all(Address(customer_id=customer_id, first_name="E", last_name="M", line1=f"Weg {i}", city="Berlin",
                          postal_code="10557", country_code="DE", created_at=now, updated_at=now)
                  for i in range(MAX_ADDRESSES - 2))
    responses = await asyncio.gather(*(live.client.post("/store/me/addresses", headers=auth, json=BERLIN)
                                       for _ in range(8)))
    assert Counter(r.status_code for r in responses) == {201: 2, 409: 6}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"address.limit_reached"}
    assert len(await addresses_of(live.db, customer_id)) == MAX_ADDRESSES


async def test_an_address_added_while_the_account_is_erased_does_not_survive(live: Live) -> None:
    auth, customer_id = await sign_in(live.client, "erika@example.com")
    creates = [live.client.post("/store/me/addresses", headers=auth, json=BERLIN) for _ in range(4)]
    erase = live.client.request("DELETE", "/store/me", headers=auth, json={"password": PASSWORD})
    results = await asyncio.gather(creates[0], creates[1], erase, creates[2], creates[3])
    assert results[2].status_code == 204, results[2].text
    others = [r.status_code for i, r in enumerate(results) if i != 2]
    assert set(others) <= {201, 401, 404}, others  # before the erasure, or refused after it
    assert await addresses_of(live.db, customer_id) == []
