"""Concurrent authorizations with one idempotency key, on a committed database, each on its own
connection: the gateway is called once, one payment exists, and every caller gets its outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mercato.kit.db import create_engine
from mercato.kit.settings import Settings
from mercato.modules import payments
from tests.integration.orders.factories import place
from tests.integration.payments.spy import SpyGateway

CALLERS = 12


@dataclass
class Shop:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()


@pytest.fixture
async def shop(settings: Settings, fresh_database: Callable[[], str]) -> AsyncIterator[Shop]:
    tuned = settings.model_copy(update={"db_statement_timeout_ms": 10_000})
    engine = create_engine(fresh_database(), tuned, pool_size=CALLERS + 2, max_overflow=0, pool_timeout=30)
    try:
        yield Shop(engine, async_sessionmaker(engine, expire_on_commit=False, autoflush=False))
    finally:
        await engine.dispose()


async def _race(shop: Shop, order_id: uuid.UUID, key: str, token: str, gateway: str) -> list[payments.PaymentOutcome]:
    barrier = asyncio.Barrier(CALLERS)

    async def attempt() -> payments.PaymentOutcome:
        async with shop.sessions() as session, session.begin():
            await session.execute(text("SELECT 1"))  # hold a connection of its own before the start
            await barrier.wait()
            return await payments.authorize(session, order_id=order_id, amount=2500, currency="EUR",
                                            gateway=gateway, token=token, idempotency_key=key, email=None)

    return list(await asyncio.gather(*(attempt() for _ in range(CALLERS))))


async def test_concurrent_retries_charge_once(shop: Shop, spy_gateway: SpyGateway) -> None:
    async with shop.sessions() as s, s.begin():
        placed = await place(s)

    outcomes = await _race(shop, placed.id, "checkout:race-1", "tok_visa", spy_gateway.name)

    assert spy_gateway.authorize_calls == 1
    assert {o.payment_id for o in outcomes} == {outcomes[0].payment_id}
    assert {(o.status, o.psp_reference) for o in outcomes} == {("authorized", outcomes[0].psp_reference)}
    assert sum(not o.replayed for o in outcomes) == 1
    assert await shop.scalar("SELECT count(*) FROM payments WHERE order_id = :id", id=placed.id) == 1
    assert await shop.scalar("SELECT count(*) FROM payment_transactions") == 1


async def test_concurrent_retries_of_a_transient_failure_never_duplicate_the_payment(
    shop: Shop, spy_gateway: SpyGateway
) -> None:
    async with shop.sessions() as s, s.begin():
        placed = await place(s)

    outcomes = await _race(shop, placed.id, "checkout:race-2", "tok_processingError", spy_gateway.name)

    # A transient failure is retried, but one caller at a time (the payment row is locked) and
    # always with the same key: the provider would deduplicate a charge.
    assert set(spy_gateway.keys) == {"checkout:race-2"}
    assert {o.payment_id for o in outcomes} == {outcomes[0].payment_id}
    assert {o.status for o in outcomes} == {"failed"}
    assert await shop.scalar("SELECT count(*) FROM payments WHERE order_id = :id", id=placed.id) == 1
