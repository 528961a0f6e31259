"""Issue #6, "Done when": 100 buyers check out at once over HTTP, against two `mercato serve`
processes, each with a coupon limited to 10 uses — exactly 10 orders carry it, every other buyer
gets a clean refusal and no order, and the coupon's counters agree with the orders."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from mercato.kit.db import Database
from mercato.kit.settings import Settings
from mercato.modules.promotions.service import add_codes
from tests.fixtures.processes import Processes, free_port, process_env, wait_until_healthy
from tests.integration.cart.helpers import make_shop
from tests.integration.checkout.helpers import checkout, ready_cart
from tests.integration.promotions.factories import make_promotion

pytestmark = pytest.mark.slow

SERVERS = 2
BUYERS = 100
USES = 10


@dataclass
class Servers:
    bases: list[str]
    db: Database

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()


@pytest.fixture
async def servers(processes: Processes, fresh_database: Callable[[], str],
                  settings: Settings) -> AsyncIterator[Servers]:
    url = fresh_database()
    started = []
    for _ in range(SERVERS):
        port = free_port()
        # Shoppers all come from one address here: the coupon-guessing limit would refuse them.
        env = process_env(url, MERCATO_RATE_LIMIT_COUPON="10000/minute")
        started.append((f"http://127.0.0.1:{port}",
                        processes.spawn(["serve", "--port", str(port), "--workers", "1"], env, "serve")))
    for base, proc in started:
        wait_until_healthy(base, proc, timeout_s=60)
    db = Database.connect(url, settings, pool_size=4, max_overflow=0)
    try:
        yield Servers([base for base, _ in started], db)
    finally:
        await db.dispose()


async def test_a_coupon_limited_to_ten_uses_lands_on_exactly_ten_orders(servers: Servers) -> None:
    async with servers.db.sessionmaker() as session:
        shop = await make_shop(session)
        promotion = await make_promotion(session, name="Race", codes=("SPARE",))
        await add_codes(session, promotion, ["RACE10"], max_uses=USES)
        await session.commit()
    limits = httpx.Limits(max_connections=BUYERS + 8, max_keepalive_connections=0)
    clients = [httpx.AsyncClient(base_url=base, timeout=60, limits=limits) for base in servers.bases]
    try:
        carts = []
        for i in range(BUYERS):  # prepared one after another: only the checkouts race
            carts.append(await ready_cart(clients[i % SERVERS], [(shop.mug, 1)], email=f"buyer{i}@example.com",
                                          coupon="RACE10"))
        assert all(cart["coupons"] == ["RACE10"] for cart in carts)
        responses = await asyncio.gather(*(checkout(clients[i % SERVERS], cart["id"], key=f"race-{i}")
                                           for i, cart in enumerate(carts)))
    finally:
        for client in clients:
            await client.aclose()

    outcome = Counter("placed" if r.status_code == 201 else f"{r.status_code} {r.json().get('code')}"
                      for r in responses)
    assert outcome["placed"] == USES, outcome
    # Late buyers are told at the count (409) or, once the code is spent, when the cart is priced (422).
    assert set(outcome) <= {"placed", "409 promotion.usage_limit_reached", "422 promotion.already_used",
                            "422 promotion.usage_limit_reached"}, outcome
    placed = [r.json()["order"] for r in responses if r.status_code == 201]
    assert all(order["coupons"] == ["RACE10"] for order in placed)
    assert all(order["totals"]["discount"]["amount"] > 0 for order in placed)
    assert await servers.scalar("SELECT count(*) FROM orders") == USES
    assert await servers.scalar("SELECT count(*) FROM orders WHERE 'RACE10' = ANY(coupons)") == USES
    assert await servers.scalar("SELECT uses FROM promotion_codes WHERE code = 'RACE10'") == USES
    assert await servers.scalar("SELECT count(*) FROM promotion_redemptions WHERE code = 'RACE10'") == USES
    # The refused buyers still have their carts, open, with the coupon on them.
    assert await servers.scalar("SELECT count(*) FROM carts WHERE status = 'active'") == BUYERS - USES
