"""Usage limits under real concurrency (issue #6, "Done when"): on a committed database, 60
transactions on 60 separate connections place orders with the same coupon at once. Every one of
them evaluated the coupon as still available before any counted it (a barrier holds them until
all have); the conditional updates then admit exactly as many as the limit allows, the rest get
`promotion.usage_limit_reached`, and every counter is exact."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mercato.kit.clock import utcnow
from mercato.kit.db import create_engine
from mercato.kit.settings import Settings
from mercato.modules import promotions
from mercato.modules.promotions.errors import InvalidPromotion
from mercato.modules.promotions.models import Promotion
from mercato.modules.promotions.redemption import tally_unlimited
from mercato.modules.promotions.service import PromotionData, add_codes, update_promotion
from tests.integration.catalog.factories import channel_ids
from tests.integration.catalog.review_factories import make_customers
from tests.integration.promotions.factories import line, make_promotion, promo_cart

# 60, not 100: the machine's PostgreSQL 15 admits 100 connections in all, shared with the suite.
BUYERS = 60


@dataclass
class Shop:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    channel_id: uuid.UUID

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()


@pytest.fixture
async def shop(settings: Settings, fresh_database: Callable[[], str]) -> AsyncIterator[Shop]:
    # One connection per buyer, so all the transactions really run side by side.
    tuned = settings.model_copy(update={"db_statement_timeout_ms": 10_000})
    engine = create_engine(fresh_database(), tuned, pool_size=BUYERS + 2, max_overflow=0, pool_timeout=30)
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    try:
        async with sessions() as s, s.begin():
            channel = (await channel_ids(s))["web-eu"]
        yield Shop(engine, sessions, channel)
    finally:
        await engine.dispose()


async def _checkouts(shop: Shop, code: str, cart: promotions.PromoCart, buyers: int,
                     customer_id: uuid.UUID | None = None) -> Counter[str]:
    """`buyers` checkouts at once, each in its own transaction: evaluate, wait for all, redeem, commit."""
    barrier = asyncio.Barrier(buyers)

    async def checkout() -> str:
        async with shop.sessions() as session:
            try:
                async with session.begin():
                    now = utcnow()
                    loaded = await promotions.active_promotions(session, channel_id=shop.channel_id,
                                                                codes=frozenset({code}), now=now,
                                                                customer_id=customer_id)
                    result = promotions.evaluate(cart, loaded, codes=frozenset({code}), now=now)
                    assert result.applied_codes == (code,), result.rejections
                    await barrier.wait()
                    await promotions.redeem(session, result, order_id=uuid.uuid4(), customer_id=customer_id,
                                            currency=cart.currency)
            except promotions.UsageLimitReached as exc:
                return exc.code
            return "placed"

    return Counter(await asyncio.gather(*(checkout() for _ in range(buyers))))


async def test_a_code_limited_to_ten_uses_is_used_exactly_ten_times(shop: Shop) -> None:
    async with shop.sessions() as s, s.begin():
        promotion = await make_promotion(s, name="Race", codes=("SPARE",))
        await add_codes(s, promotion, ["RACE10"], max_uses=10)

    outcome = await _checkouts(shop, "RACE10", promo_cart(shop.channel_id, line("a", 5000)), BUYERS)

    assert outcome == {"placed": 10, "promotion.usage_limit_reached": BUYERS - 10}
    assert await shop.scalar("SELECT uses FROM promotion_codes WHERE code = 'RACE10'") == 10
    # The promotion itself has no limit: checkout left its row alone, the tally counts it.
    assert await shop.scalar("SELECT uses FROM promotions WHERE id = :id", id=promotion.id) == 0
    async with shop.sessions() as s, s.begin():
        await tally_unlimited(s)
    assert await shop.scalar("SELECT uses FROM promotions WHERE id = :id", id=promotion.id) == 10
    assert await shop.scalar("SELECT spent FROM promotions WHERE id = :id", id=promotion.id) == 10 * 500
    assert await shop.scalar("SELECT count(*) FROM promotion_redemptions WHERE code = 'RACE10'") == 10


async def test_a_promotion_limited_to_ten_orders_admits_ten(shop: Shop) -> None:
    async with shop.sessions() as s, s.begin():
        promotion = await make_promotion(s, name="Ten orders", codes=("TENORDERS",), usage_limit=10)

    outcome = await _checkouts(shop, "TENORDERS", promo_cart(shop.channel_id, line("a", 5000)), BUYERS)

    assert outcome == {"placed": 10, "promotion.usage_limit_reached": BUYERS - 10}
    assert await shop.scalar("SELECT uses FROM promotions WHERE id = :id", id=promotion.id) == 10
    assert await shop.scalar("SELECT count(*) FROM promotion_redemptions") == 10


async def test_a_budget_is_never_overspent(shop: Shop) -> None:
    async with shop.sessions() as s, s.begin():
        promotion = await make_promotion(s, name="Budget", codes=("BUDGET",), currency="EUR", budget=1000,
                                         benefit={"kind": "fixed_amount", "amount": 150})

    outcome = await _checkouts(shop, "BUDGET", promo_cart(shop.channel_id, line("a", 5000)), BUYERS)

    assert outcome == {"placed": 6, "promotion.usage_limit_reached": BUYERS - 6}  # 6 × 150 = 900 <= 1000
    assert await shop.scalar("SELECT spent FROM promotions WHERE id = :id", id=promotion.id) == 900
    assert await shop.scalar("SELECT sum(amount) FROM promotion_redemptions") == 900


async def test_one_customer_racing_their_own_limit(shop: Shop, settings: Settings) -> None:
    async with shop.sessions() as s, s.begin():
        (customer,) = await make_customers(s, settings)
        promotion = await make_promotion(s, name="Twice each", codes=("TWICEEACH",), per_customer_limit=2)
    cart = promo_cart(shop.channel_id, line("a", 5000), customer_id=customer.id)

    outcome = await _checkouts(shop, "TWICEEACH", cart, 30, customer_id=customer.id)

    assert outcome == {"placed": 2, "promotion.usage_limit_reached": 28}
    assert await shop.scalar("SELECT uses FROM promotion_customer_uses WHERE promotion_id = :id",
                             id=promotion.id) == 2
    async with shop.sessions() as s, s.begin():
        await tally_unlimited(s)
    assert await shop.scalar("SELECT uses FROM promotions WHERE id = :id", id=promotion.id) == 2


async def _redeem_code(shop: Shop, code: str) -> None:
    """One order with `code`, giving up after 1 s of waiting for a lock."""
    cart = promo_cart(shop.channel_id, line("a", 5000))
    async with shop.sessions() as session, session.begin():
        await session.execute(text("SET LOCAL lock_timeout = '1s'"))
        now = utcnow()
        loaded = await promotions.active_promotions(session, channel_id=shop.channel_id, codes=frozenset({code}),
                                                    now=now, customer_id=None)
        result = promotions.evaluate(cart, loaded, codes=frozenset({code}), now=now)
        assert result.applied_codes == (code,), result.rejections
        await promotions.redeem(session, result, order_id=uuid.uuid4(), customer_id=None, currency="EUR")


async def test_an_unlimited_promotion_and_code_are_not_a_queue(shop: Shop) -> None:
    """Orders that get a promotion without limits do not touch its row or its code's: while another
    transaction holds those rows locked, they go through; a limited one waits (here: times out)."""
    async with shop.sessions() as s, s.begin():
        open_promotion = await make_promotion(s, name="Open", codes=("OPEN",))
        capped = await make_promotion(s, name="Capped", codes=("CAPPED",), usage_limit=100)
    async with shop.sessions() as holder, holder.begin():
        await holder.execute(text("SELECT 1 FROM promotions WHERE id = ANY(:ids) FOR NO KEY UPDATE"),
                             {"ids": [open_promotion.id, capped.id]})
        await holder.execute(text("SELECT 1 FROM promotion_codes WHERE code IN ('OPEN', 'CAPPED') FOR NO KEY UPDATE"))
        await asyncio.gather(*(_redeem_code(shop, "OPEN") for _ in range(5)))
        with pytest.raises(DBAPIError, match="lock timeout"):
            await _redeem_code(shop, "CAPPED")
    assert await shop.scalar("SELECT count(*) FROM promotion_redemptions WHERE code = 'OPEN'") == 5
    assert await shop.scalar("SELECT count(*) FROM promotion_redemptions WHERE code = 'CAPPED'") == 0
    async with shop.sessions() as s, s.begin():
        assert await tally_unlimited(s) == 2  # the promotion's row and its code's
    assert await shop.scalar("SELECT uses FROM promotions WHERE id = :id", id=open_promotion.id) == 5
    assert await shop.scalar("SELECT uses FROM promotion_codes WHERE code = 'OPEN'") == 5
    async with shop.sessions() as s, s.begin():
        assert await tally_unlimited(s) == 0, "nothing left to tally"


def _settings_of(row: Promotion, **changes: Any) -> PromotionData:
    fields = {key: getattr(row, key) for key in PromotionData.__dataclass_fields__}
    return PromotionData(**fields | {"channel_ids": [str(c) for c in row.channel_ids]} | changes)


async def test_a_limit_set_on_a_running_promotion_starts_from_its_real_use(shop: Shop) -> None:
    async with shop.sessions() as s, s.begin():
        promotion = await make_promotion(s, name="Later capped", codes=("LATER",))
    for _ in range(3):
        await _redeem_code(shop, "LATER")
    assert await shop.scalar("SELECT uses FROM promotions WHERE id = :id", id=promotion.id) == 0, "not tallied yet"
    async with shop.sessions() as s, s.begin():
        row = await s.get(Promotion, promotion.id, with_for_update=True)
        assert row is not None
        with pytest.raises(InvalidPromotion):
            await update_promotion(s, row, _settings_of(row, usage_limit=2))
    async with shop.sessions() as s, s.begin():
        row = await s.get(Promotion, promotion.id, with_for_update=True)
        assert row is not None
        await update_promotion(s, row, _settings_of(row, usage_limit=4))
    outcome = await _checkouts(shop, "LATER", promo_cart(shop.channel_id, line("a", 5000)), 5)
    assert outcome == {"placed": 1, "promotion.usage_limit_reached": 4}, "3 used before the limit, 1 left"
