"""Checkouts at the same time, on a database of their own with a real connection pool: a
double-clicked checkout makes one order, whatever keys the clicks carry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.fixtures.live import Live
from tests.integration.cart.helpers import make_shop
from tests.integration.checkout.helpers import checkout, ready_cart

pytestmark = pytest.mark.slow


async def _scalar(live: Live, sql: str, **params: Any) -> Any:
    async with live.db.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def test_a_double_click_makes_one_order(live: Live) -> None:
    async with live.db.sessionmaker() as session:
        shop = await make_shop(session)
    client = live.client
    cart = await ready_cart(client, [(shop.tracked, 2)])
    responses = await asyncio.gather(*(checkout(client, cart["id"], key=f"click-{i}") for i in range(4)),
                                     *(checkout(client, cart["id"], key="click-same") for _ in range(4)))
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert len({r.json()["order"]["id"] for r in created}) == 1
    refused = [r for r in responses if r.status_code != 201]
    assert {r.json()["code"] for r in refused} <= {"cart.completed", "idempotency.in_progress"}, [
        r.text for r in refused]
    assert await _scalar(live, "SELECT count(*) FROM orders") == 1
    assert await _scalar(live, "SELECT count(*) FROM payments") == 1
    held = await _scalar(live, """SELECT coalesce(sum(b.reserved), 0) * 1000 + coalesce(sum(b.allocated), 0)
                                  FROM stock_buckets b JOIN stock_levels s ON s.id = b.stock_id
                                  WHERE s.variant_id = :v""", v=shop.tracked)
    assert held == 2, "2 allocated, nothing left held"
