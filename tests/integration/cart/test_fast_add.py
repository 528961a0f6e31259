"""Add-to-cart's fast path (`CartLineFastPath`, `cart.GuestLineAdds`): a guest's plain add runs on
a bare pooled connection, optimistically, and answers exactly as the route; everything else —
refusals, bearer tokens, Idempotency-Keys, odd bodies — is the route's. Run on a database of its
own with the real connection pools (`live`), so the bare-connection path is the one taken."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from mercato.kit.clock import utcnow
from mercato.kit.db import RAW_STATEMENT_HOOKS
from mercato.modules.cart import repository
from tests.fixtures.live import Live
from tests.integration.cart.helpers import Shop, add, amounts, make_shop, new_cart, read
from tests.integration.promotions.factories import make_promotion

pytestmark = pytest.mark.slow


async def _shop(live: Live) -> Shop:
    async with live.db.sessionmaker() as session:
        return await make_shop(session)


def _comparable(cart: dict[str, Any]) -> dict[str, Any]:
    """A cart without what differs between two carts with the same contents (ids, times)."""
    volatile = {"id", "created_at", "updated_at", "expires_at", "added_at"}
    return {
        **{key: value for key, value in cart.items() if key not in volatile},
        "lines": [{key: value for key, value in line.items() if key not in volatile} for line in cart["lines"]],
    }


async def test_the_fast_path_answers_as_the_route(live: Live) -> None:
    shop = await _shop(live)
    fast_cart, route_cart = await new_cart(live.client), await new_cart(live.client)
    steps = [(shop.mug, 2), (shop.tracked, 1), (shop.mug, 1)]  # a new line, another, then to an existing one
    for variant, quantity in steps:
        fast = await add(live.client, fast_cart["id"], variant, quantity)
        # An Idempotency-Key leaves the request to the route.
        route = await add(live.client, route_cart["id"], variant, quantity,
                          **{"Idempotency-Key": f"k-{variant}-{quantity}"})
        assert fast.status_code == route.status_code, (fast.text, route.text)
        assert "idempotent-replayed" not in route.headers
        for header in ("content-type", "cache-control", "x-content-type-options"):
            assert fast.headers[header] == route.headers[header], header
        assert fast.headers["x-request-id"] != route.headers["x-request-id"]
        assert _comparable(fast.json()) == _comparable(route.json())
    assert {line["quantity"] for line in (await read(live.client, fast_cart["id"]))["lines"]} == {3, 1}


async def test_refusals_and_odd_requests_are_answered_by_the_route(live: Live) -> None:
    shop = await _shop(live)
    cart = await new_cart(live.client)
    await add(live.client, cart["id"], shop.mug, 1)
    before = await read(live.client, cart["id"])
    cases: list[tuple[dict[str, Any], dict[str, str], int, str | None]] = [
        ({"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": 1}, {}, 422, "cart.unknown_variant"),
        ({"variant_id": str(shop.mug), "quantity": 0}, {}, 422, "cart.invalid_quantity"),
        ({"variant_id": str(shop.draft), "quantity": 1}, {}, 409, "cart.variant_unavailable"),
        ({"variant_id": str(shop.tracked), "quantity": 21}, {}, 409, "cart.insufficient_stock"),
        # the fast path reads these bodies, declines them, and the route reads them again
        ({"variant_id": str(shop.mug), "quantity": 1, "note": "x"}, {}, 422, None),
        ({"variant_id": str(shop.mug), "quantity": 1.5}, {}, 422, None),
    ]
    for body, headers, status, code in cases:
        response = await live.client.post(f"/store/carts/{cart['id']}/lines", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if code is not None:
            assert response.json()["code"] == code
    not_json = await live.client.post(f"/store/carts/{cart['id']}/lines", content=b"variant_id=1",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 415
    unknown_cart = await add(live.client, "7f1d0c7e-5f4e-4b59-9c1a-0c6f3f1f9a11", shop.mug, 1)
    assert unknown_cart.status_code == 404
    assert _comparable(await read(live.client, cart["id"])) == _comparable(before)


async def test_a_plain_add_is_two_statements(live: Live) -> None:
    shop = await _shop(live)
    cart = await new_cart(live.client)
    await add(live.client, cart["id"], shop.mug, 1)
    statements: list[str] = []
    RAW_STATEMENT_HOOKS.append(statements.append)
    try:
        response = await add(live.client, cart["id"], shop.tracked, 1)
    finally:
        RAW_STATEMENT_HOOKS.remove(statements.append)
    assert response.status_code == 201
    # the cart with its lines and their prices, then the write — no BEGIN/COMMIT around them; the
    # promotions are those this process read for the first add (their version has not changed)
    assert len(statements) == 2, statements


async def test_the_write_skips_the_disk_flush_for_itself_only(live: Live) -> None:
    """The fast path's write commits without waiting for the WAL flush (decision 0014); the
    setting lasts for that one statement's transaction, not for the pooled connection's next user."""
    shop = await _shop(live)
    cart = await new_cart(live.client)
    statements: list[str] = []
    RAW_STATEMENT_HOOKS.append(statements.append)
    try:
        assert (await add(live.client, cart["id"], shop.mug, 1)).status_code == 201
    finally:
        RAW_STATEMENT_HOOKS.remove(statements.append)
    write = statements[-1]
    assert "UPDATE carts" in write
    assert "set_config('synchronous_commit', 'off', true)" in write
    pool = live.db.raw_pool
    assert pool is not None
    async with contextlib.AsyncExitStack() as held:  # every connection of the pool, the one just used too
        connections = [await held.enter_async_context(pool.acquire()) for _ in range(pool.size)]
        assert [await c.fetchval("SHOW synchronous_commit") for c in connections] == ["on"] * pool.size
    assert [line["quantity"] for line in (await read(live.client, cart["id"]))["lines"]] == [1]


async def test_concurrent_adds_to_one_cart_lose_nothing(live: Live) -> None:
    shop = await _shop(live)
    cart = await new_cart(live.client)
    mugs = 24
    responses = await asyncio.gather(
        *(add(live.client, cart["id"], shop.mug, 1) for _ in range(mugs)),
        *(add(live.client, cart["id"], variant, 2) for variant in shop.many),
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses if r.status_code >= 300]
    # each new line was created once; every other add found its line
    assert sum(r.status_code == 201 for r in responses) == 1 + len(shop.many)
    lines = {line["variant_id"]: line["quantity"] for line in (await read(live.client, cart["id"]))["lines"]}
    assert lines == {str(shop.mug): mugs, **{str(variant): 2 for variant in shop.many}}


async def test_promotions_held_for_guest_carts_follow_every_change(live: Live) -> None:
    """The automatic promotions a process holds are taken again whenever one is added, changed
    (its counters included) or removed — seen by the very next add, whatever committed it."""
    shop = await _shop(live)

    async def discount_on_a_mug() -> int:  # a new guest cart with one mug (below the demo's spend tiers)
        added = await add(live.client, (await new_cart(live.client))["id"], shop.mug, 1)
        assert added.status_code == 201, added.text
        return amounts(added.json())["discount"]

    async def run(sql: str, **params: Any) -> None:
        async with live.db.engine.begin() as conn:
            await conn.execute(text(sql), params)

    assert await discount_on_a_mug() == 0  # the channel's promotions are now held
    async with live.db.sessionmaker() as session:
        promotion = await make_promotion(session, name="Mugs 10 %", usage_limit=5)
        await session.commit()
    assert await discount_on_a_mug() == 100
    await run("UPDATE promotions SET uses = 5 WHERE id = :id", id=promotion.id)  # used up by orders elsewhere
    assert await discount_on_a_mug() == 0
    await run("UPDATE promotions SET uses = 0 WHERE id = :id", id=promotion.id)
    assert await discount_on_a_mug() == 100
    await run("DELETE FROM promotions WHERE id = :id", id=promotion.id)
    assert await discount_on_a_mug() == 0


async def test_the_read_of_many_carts_is_each_carts_own_read(live: Live) -> None:
    """`load_guests` (adds at the same moment read their carts together) gives for every cart what
    its own `load` gives: empty carts, carts with lines, the variant about to be added or already a
    line, none, unknown or unpriced — and no cart for an id that has none."""
    shop = await _shop(live)
    empty, filled, other = [await new_cart(live.client) for _ in range(3)]
    for variant, quantity in ((shop.mug, 2), (shop.tracked, 3), (shop.many[0], 1)):
        assert (await add(live.client, filled["id"], variant, quantity)).status_code == 201
    assert (await add(live.client, other["id"], shop.limited, 2)).status_code == 201
    unknown = uuid.UUID("7f1d0c7e-5f4e-4b59-9c1a-0c6f3f1f9a11")
    now = utcnow()
    wanted = [(empty["id"], shop.tracked), (filled["id"], shop.mug), (filled["id"], shop.many[1]),
              (filled["id"], None), (other["id"], shop.draft), (other["id"], unknown), (str(unknown), shop.mug),
              (empty["id"], shop.us_only)]
    loads = [repository.GuestLoad(uuid.UUID(cart_id), extra, now) for cart_id, extra in wanted]
    async with live.db.own_connection() as db:
        together = await repository.load_guests(db, loads)
        alone = [await repository.load(db, load.cart_id, now=now, extra=[load.extra] if load.extra else [],
                                       for_guest=True) for load in loads]
    assert together == alone
    assert together[6] is None
    assert [len(state.items) for state in together if state is not None] == [1, 3, 4, 3, 2, 2, 1]


async def test_adds_at_the_same_moment_share_their_read_and_each_lands(live: Live) -> None:
    shop = await _shop(live)
    carts = [(await new_cart(live.client))["id"] for _ in range(8)]
    for cart_id in carts[:4]:  # half of them have the line already
        assert (await add(live.client, cart_id, shop.mug, 1)).status_code == 201
    statements: list[str] = []
    RAW_STATEMENT_HOOKS.append(statements.append)
    try:
        responses = await asyncio.gather(*(add(live.client, cart_id, variant, 2)
                                           for cart_id in carts for variant in (shop.mug, shop.tracked)))
    finally:
        RAW_STATEMENT_HOOKS.remove(statements.append)
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses if r.status_code >= 300]
    reads = [sql for sql in statements if "WITH ORDINALITY AS b(id, extra, at, n)" in sql]
    assert 1 <= len(reads) < len(responses)  # read together (each retry of a changed cart reads again)
    for index, cart_id in enumerate(carts):
        lines = {line["variant_id"]: line["quantity"] for line in (await read(live.client, cart_id))["lines"]}
        assert lines == {str(shop.mug): 3 if index < 4 else 2, str(shop.tracked): 2}
