"""The address book: /store/me/addresses against the real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.modules.identity.addresses import MAX_ADDRESSES
from mercato.modules.identity.models import Address

PASSWORD = "a long enough passphrase"
BERLIN = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Heidestraße 17", "city": "Berlin",
          "postal_code": "10557", "country_code": "DE"}
MOUNTAIN_VIEW = {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines",
                 "line1": "1600 Amphitheatre Pkwy", "line2": "Building 4", "city": "Mountain View",
                 "region": "california", "postal_code": "94043", "country_code": "us", "phone": "+1 650 253 0000"}


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    registered = await client.post("/store/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = await client.post("/store/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['access_token']}"}


async def me_id(client: httpx.AsyncClient, auth: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await client.get("/store/me", headers=auth)).json()["id"])


async def test_create_normalises_by_country_and_reads_back(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "ada@example.com")
    created = await client.post("/store/me/addresses", headers=auth, json={**MOUNTAIN_VIEW, "label": " Work "})
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/store/me/addresses/{body['id']}"
    assert {k: body[k] for k in ("label", "region", "country_code", "city", "postal_code", "line2", "company")} == {
        "label": "Work", "region": "CA", "country_code": "US", "city": "Mountain View", "postal_code": "94043",
        "line2": "Building 4", "company": "Analytical Engines"}
    assert body["is_default_shipping"] is body["is_default_billing"] is False
    one = await client.get(f"/store/me/addresses/{body['id']}", headers=auth)
    assert one.status_code == 200
    assert one.json() == body
    listed = await client.get("/store/me/addresses", headers=auth)
    assert listed.json() == {"items": [body], "next_cursor": None}


async def test_german_four_digit_postcode_is_a_field_error(client: httpx.AsyncClient, session: AsyncSession) -> None:
    auth = await sign_in(client, "erika@example.com")
    response = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, "postal_code": "1234"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "address.invalid"
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("postal_code", "invalid")]
    assert problem["errors"][0]["message"]
    assert await session.scalar(select(func.count()).select_from(Address)) == 0


async def test_unknown_country_and_missing_fields_name_our_fields(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "erika@example.com")
    unknown = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, "country_code": "XQ"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "address.invalid"
    assert [(e["field"], e["code"]) for e in unknown.json()["errors"]] == [("country_code", "invalid")]
    missing = await client.post("/store/me/addresses", headers=auth,
                                json={"first_name": "Erika", "country_code": "US", "line1": "1 Main St"})
    assert missing.status_code == 422
    assert [(e["field"], e["code"]) for e in missing.json()["errors"]] == [
        ("last_name", "required"), ("city", "required"), ("region", "required"), ("postal_code", "required")]


async def test_patch_revalidates_the_merged_address_and_a_bad_patch_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    auth = await sign_in(client, "ada@example.com")
    created = (await client.post("/store/me/addresses", headers=auth, json=MOUNTAIN_VIEW)).json()
    url = f"/store/me/addresses/{created['id']}"
    bad = await client.patch(url, headers=auth, json={"postal_code": "10001"})  # a New York ZIP in California
    assert bad.status_code == 422
    assert [(e["field"], e["code"]) for e in bad.json()["errors"]] == [("postal_code", "invalid")]
    assert (await client.get(url, headers=auth)).json() == created
    moved = await client.patch(url, headers=auth, json={"region": "New York", "postal_code": "10001",
                                                         "city": "New York", "line2": None, "label": "NYC"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["region"], body["postal_code"], body["city"], body["line2"], body["label"]) == (
        "NY", "10001", "New York", None, "NYC")
    assert body["first_name"] == "Ada"
    assert body["updated_at"] > created["updated_at"]
    assert (await client.get(url, headers=auth)).json() == body
    cleared = await client.patch(url, headers=auth, json={"last_name": None})
    assert cleared.status_code == 422
    assert [(e["field"], e["code"]) for e in cleared.json()["errors"]] == [("last_name", "required")]


async def test_a_new_default_takes_the_flag_from_the_previous_one(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "erika@example.com")

    async def create(**flags: bool) -> str:
        response = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, **flags})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def defaults() -> dict[str, tuple[bool, bool]]:
        items = (await client.get("/store/me/addresses", headers=auth)).json()["items"]
        return {a["id"]: (a["is_default_shipping"], a["is_default_billing"]) for a in items}

    home = await create(is_default_shipping=True, is_default_billing=True)
    office = await create(is_default_shipping=True)
    assert await defaults() == {home: (False, True), office: (True, False)}
    third = await create()
    patched = await client.patch(f"/store/me/addresses/{third}", headers=auth, json={"is_default_billing": True})
    assert (patched.json()["is_default_shipping"], patched.json()["is_default_billing"]) == (False, True)
    assert await defaults() == {home: (False, False), office: (True, False), third: (False, True)}
    unset = await client.patch(f"/store/me/addresses/{office}", headers=auth, json={"is_default_shipping": False})
    assert unset.status_code == 200
    assert await defaults() == {home: (False, False), office: (False, False), third: (False, True)}


async def test_delete_then_the_address_is_gone(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "erika@example.com")
    created = (await client.post("/store/me/addresses", headers=auth, json=BERLIN)).json()
    url = f"/store/me/addresses/{created['id']}"
    deleted = await client.delete(url, headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    for response in (await client.get(url, headers=auth), await client.delete(url, headers=auth),
                     await client.patch(url, headers=auth, json={"city": "Hamburg"})):
        assert response.status_code == 404
        assert response.json()["code"] == "address.not_found"


async def test_the_book_holds_at_most_fifty(client: httpx.AsyncClient, session: AsyncSession) -> None:
    auth = await sign_in(client, "erika@example.com")
    owner = await me_id(client, auth)
    now = utcnow()
    session.add_all(Address(customer_id=owner, first_name="E", last_name="M", line1=f"Weg {i}", city="Berlin",
                            postal_code="10557", country_code="DE", created_at=now, updated_at=now)
                    for i in range(MAX_ADDRESSES))
    await session.commit()
    refused = await client.post("/store/me/addresses", headers=auth, json=BERLIN)
    assert refused.status_code == 409
    assert refused.json()["code"] == "address.limit_reached"
    assert await session.scalar(select(func.count()).select_from(Address).where(Address.customer_id == owner)) == 50
    first = (await client.get("/store/me/addresses?limit=1", headers=auth)).json()["items"][0]
    assert (await client.delete(f"/store/me/addresses/{first['id']}", headers=auth)).status_code == 204
    assert (await client.post("/store/me/addresses", headers=auth, json=BERLIN)).status_code == 201


async def test_list_is_keyset_paginated_in_a_pinned_number_of_queries(
    client: httpx.AsyncClient, assert_max_queries: Callable[[int], Any],
) -> None:
    auth = await sign_in(client, "erika@example.com")
    created = [(await client.post("/store/me/addresses", headers=auth,
                                  json={**BERLIN, "label": f"#{i}"})).json()["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        with assert_max_queries(3):  # session check (cached after the first page), customer, the page
            page = (await client.get("/store/me/addresses", headers=auth, params=params)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    bad = await client.get("/store/me/addresses", headers=auth, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "pagination.invalid_cursor"
    too_many = await client.get("/store/me/addresses", headers=auth, params={"limit": "101"})
    assert too_many.status_code == 422


async def test_needs_a_customer_and_malformed_ids_are_just_unknown(client: httpx.AsyncClient, staff_token: str) -> None:
    for method, url in (("GET", "/store/me/addresses"), ("POST", "/store/me/addresses"),
                        ("GET", f"/store/me/addresses/{uuid.uuid4()}")):
        anonymous = await client.request(method, url, json=BERLIN if method == "POST" else None)
        assert anonymous.status_code == 401
        as_staff = await client.request(method, url, json=BERLIN if method == "POST" else None,
                                        headers={"authorization": f"Bearer {staff_token}"})
        assert as_staff.status_code == 401
    auth = await sign_in(client, "erika@example.com")
    for bad_id in ("not-a-uuid", "1", str(uuid.uuid4())):
        response = await client.get(f"/store/me/addresses/{bad_id}", headers=auth)
        assert response.status_code == 404
        assert response.json()["code"] == "address.not_found"


async def test_unknown_fields_and_wrong_types_are_refused(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "erika@example.com")
    extra = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, "customer_id": str(uuid.uuid4())})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "customer_id"
    wrong = await client.post("/store/me/addresses", headers=auth, json={**BERLIN, "postal_code": 10557})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "postal_code"
