"""Wishlists: /store/me/wishlists against the real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.modules.identity.models import WishlistItem
from mercato.modules.identity.wishlists import MAX_ITEMS, MAX_WISHLISTS

PASSWORD = "a long enough passphrase"


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    registered = await client.post("/store/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = await client.post("/store/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['access_token']}"}


async def create(client: httpx.AsyncClient, auth: dict[str, str], name: str) -> dict[str, Any]:
    response = await client.post("/store/me/wishlists", headers=auth, json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_add_items_and_read_back(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "wish@example.com")
    created = await create(client, auth, "  Birthday   ideas ")
    assert (created["name"], created["item_count"], created["items"]) == ("Birthday ideas", 0, [])
    items_url = f"/store/me/wishlists/{created['id']}/items"
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    added = await client.post(items_url, headers=auth, json={"variant_id": first, "note": " size M "})
    assert added.status_code == 201, added.text
    assert (added.json()["variant_id"], added.json()["note"]) == (first, "size M")
    assert (await client.post(items_url, headers=auth, json={"variant_id": second.upper()})).status_code == 201
    detail = (await client.get(f"/store/me/wishlists/{created['id']}", headers=auth)).json()
    assert detail["item_count"] == 2
    assert [(i["variant_id"], i["note"]) for i in detail["items"]] == [(first, "size M"), (second, None)]
    assert detail["updated_at"] > created["updated_at"]


async def test_adding_again_is_idempotent_and_may_change_the_note(
    client: httpx.AsyncClient, session: AsyncSession,
) -> None:
    auth = await sign_in(client, "wish@example.com")
    wishlist = await create(client, auth, "Later")
    url = f"/store/me/wishlists/{wishlist['id']}/items"
    variant = str(uuid.uuid4())
    first = await client.post(url, headers=auth, json={"variant_id": variant, "note": "blue"})
    again = await client.post(url, headers=auth, json={"variant_id": variant})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    renoted = await client.post(url, headers=auth, json={"variant_id": variant, "note": "red"})
    assert (renoted.status_code, renoted.json()["note"], renoted.json()["added_at"]) == (
        200, "red", first.json()["added_at"])
    count = await session.scalar(select(func.count()).select_from(WishlistItem)
                                 .where(WishlistItem.wishlist_id == uuid.UUID(wishlist["id"])))
    assert count == 1
    bad = await client.post(url, headers=auth, json={"variant_id": "not-a-uuid"})
    assert bad.status_code == 422
    assert [(e["field"], e["code"]) for e in bad.json()["errors"]] == [("variant_id", "invalid")]


async def test_remove_item(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "wish@example.com")
    wishlist = await create(client, auth, "Later")
    variant = str(uuid.uuid4())
    await client.post(f"/store/me/wishlists/{wishlist['id']}/items", headers=auth, json={"variant_id": variant})
    url = f"/store/me/wishlists/{wishlist['id']}/items/{variant}"
    assert (await client.delete(url, headers=auth)).status_code == 204
    assert (await client.get(f"/store/me/wishlists/{wishlist['id']}", headers=auth)).json()["items"] == []
    for gone in (url, f"/store/me/wishlists/{wishlist['id']}/items/not-a-uuid"):
        response = await client.delete(gone, headers=auth)
        assert response.status_code == 404
        assert response.json()["code"] == "wishlist.item_not_found"


async def test_names_are_unique_per_customer_ignoring_case(client: httpx.AsyncClient) -> None:
    auth = await sign_in(client, "wish@example.com")
    birthday = await create(client, auth, "Birthday")
    for name in ("Birthday", "birthday", " BIRTHDAY "):
        taken = await client.post("/store/me/wishlists", headers=auth, json={"name": name})
        assert taken.status_code == 409
        assert taken.json()["code"] == "wishlist.name_taken"
    other = await create(client, auth, "Christmas")
    clash = await client.patch(f"/store/me/wishlists/{other['id']}", headers=auth, json={"name": "BIRTHDAY"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "wishlist.name_taken"
    recased = await client.patch(f"/store/me/wishlists/{birthday['id']}", headers=auth, json={"name": "birthday"})
    assert (recased.status_code, recased.json()["name"]) == (200, "birthday")
    renamed = await client.patch(f"/store/me/wishlists/{other['id']}", headers=auth, json={"name": "Xmas"})
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Xmas")
    # Another customer may use the same names.
    someone_else = await sign_in(client, "other@example.com")
    await create(client, someone_else, "Birthday")
    blank = await client.post("/store/me/wishlists", headers=auth, json={"name": "   "})
    assert blank.status_code == 422
    assert [(e["field"], e["code"]) for e in blank.json()["errors"]] == [("name", "required")]


async def test_list_has_item_counts_in_one_query_per_page(
    client: httpx.AsyncClient, assert_max_queries: Callable[[int], Any],
) -> None:
    auth = await sign_in(client, "wish@example.com")
    names = ["Empty", "One", "Three"]
    ids = [(await create(client, auth, name))["id"] for name in names]
    for wishlist_id, count in zip(ids, (0, 1, 3), strict=True):
        for _ in range(count):
            await client.post(f"/store/me/wishlists/{wishlist_id}/items", headers=auth,
                              json={"variant_id": str(uuid.uuid4())})
    with assert_max_queries(3):  # the session check, the customer, the page
        first = (await client.get("/store/me/wishlists", headers=auth, params={"limit": "2"})).json()
    second = (await client.get("/store/me/wishlists", headers=auth,
                               params={"limit": "2", "cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] is None
    listed = first["items"] + second["items"]
    assert [(w["name"], w["item_count"]) for w in listed] == [("Empty", 0), ("One", 1), ("Three", 3)]
    assert "items" not in listed[0]


async def test_delete_removes_the_wishlist_and_its_items(client: httpx.AsyncClient, session: AsyncSession) -> None:
    auth = await sign_in(client, "wish@example.com")
    wishlist = await create(client, auth, "Gone soon")
    await client.post(f"/store/me/wishlists/{wishlist['id']}/items", headers=auth,
                      json={"variant_id": str(uuid.uuid4())})
    url = f"/store/me/wishlists/{wishlist['id']}"
    assert (await client.delete(url, headers=auth)).status_code == 204
    for response in (await client.get(url, headers=auth), await client.delete(url, headers=auth),
                     await client.patch(url, headers=auth, json={"name": "x"}),
                     await client.post(f"{url}/items", headers=auth, json={"variant_id": str(uuid.uuid4())})):
        assert response.status_code == 404
        assert response.json()["code"] == "wishlist.not_found"
    assert await session.scalar(select(func.count()).select_from(WishlistItem)
                                .where(WishlistItem.wishlist_id == uuid.UUID(wishlist["id"]))) == 0
    assert (await client.get("/store/me/wishlists", headers=auth)).json() == {"items": [], "next_cursor": None}


async def test_limits_on_wishlists_and_items(client: httpx.AsyncClient, session: AsyncSession) -> None:
    auth = await sign_in(client, "wish@example.com")
    full = await create(client, auth, "Full")
    now = utcnow()
    session.add_all(WishlistItem(wishlist_id=uuid.UUID(full["id"]), variant_id=uuid.uuid4(), added_at=now)
                    for _ in range(MAX_ITEMS))
    await session.commit()
    refused = await client.post(f"/store/me/wishlists/{full['id']}/items", headers=auth,
                                json={"variant_id": str(uuid.uuid4())})
    assert refused.status_code == 409
    assert refused.json()["code"] == "wishlist.full"
    detail = (await client.get(f"/store/me/wishlists/{full['id']}", headers=auth)).json()
    assert detail["item_count"] == len(detail["items"]) == MAX_ITEMS
    for i in range(MAX_WISHLISTS - 1):
        await create(client, auth, f"List {i}")
    too_many = await client.post("/store/me/wishlists", headers=auth, json={"name": "One more"})
    assert too_many.status_code == 409
    assert too_many.json()["code"] == "wishlist.limit_reached"


async def test_needs_a_customer(client: httpx.AsyncClient) -> None:
    for method, url in (("GET", "/store/me/wishlists"), ("POST", "/store/me/wishlists"),
                        ("GET", f"/store/me/wishlists/{uuid.uuid4()}")):
        response = await client.request(method, url, json={"name": "x"} if method == "POST" else None)
        assert response.status_code == 401
