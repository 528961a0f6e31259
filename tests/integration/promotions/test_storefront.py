"""The cart's side of promotions on a real database: loading what applies (one statement),
checking coupons, the guessing guard, counting usage at order placement, the demo seed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import Conflict
from mercato.kit.ratelimit import RateLimiter
from mercato.kit.settings import Settings
from mercato.modules import promotions
from mercato.modules.catalog.models import Category
from mercato.modules.promotions.models import Promotion, PromotionCode, PromotionCustomerUse, PromotionRedemption
from mercato.modules.promotions.redemption import tally_unlimited
from mercato.modules.promotions.rules import CodeState, Percentage
from mercato.modules.promotions.service import add_codes, stats
from tests.integration.catalog.factories import channel_ids, make_category
from tests.integration.catalog.review_factories import make_customers
from tests.integration.promotions.factories import line, make_promotion, promo_cart

NOW = utcnow()


@pytest.fixture
async def channels(session: AsyncSession) -> dict[str, uuid.UUID]:
    return await channel_ids(session)


async def test_active_promotions_loads_what_may_apply_in_one_statement(
    session: AsyncSession, channels: dict[str, uuid.UUID], assert_max_queries: Callable[[int], Any],
) -> None:
    eu, us = channels["web-eu"], channels["web-us"]
    running = await make_promotion(session, name="running", channel_ids=[str(eu)])
    everywhere = await make_promotion(session, name="everywhere")
    await make_promotion(session, name="other channel", channel_ids=[str(us)])
    await make_promotion(session, name="later", starts_at=NOW + timedelta(days=1))
    await make_promotion(session, name="over", ends_at=NOW - timedelta(seconds=1))
    await make_promotion(session, name="off", is_active=False)
    expired_coupon = await make_promotion(session, name="expired coupon", codes=("OLD",),
                                          ends_at=NOW - timedelta(days=1))
    coupon = await make_promotion(session, name="coupon", codes=("NEW", "NEW2"))
    await make_promotion(session, name="unasked coupon", codes=("OTHER",))

    with assert_max_queries(1):
        loaded = await promotions.active_promotions(session, channel_id=eu, codes=frozenset({"new", "OLD", "nope"}),
                                                    now=NOW)
    assert [p.name for p in loaded] == [p.name for p in sorted([running, everywhere, expired_coupon, coupon],
                                                               key=lambda p: p.id)]
    by_name = {p.name: p for p in loaded}
    assert set(by_name["coupon"].codes) == {"NEW"}  # only the codes asked for
    assert by_name["coupon"].trigger == "coupon"
    result = promotions.evaluate(promo_cart(eu), loaded, codes=frozenset({"NEW", "OLD", "NOPE"}), now=NOW)
    assert {code: r.reason for code, r in result.rejections.items()} == {"OLD": "promotion.expired",
                                                                         "NOPE": "promotion.not_found"}
    assert result.applied_codes == ("NEW",)


async def test_categories_match_by_their_current_path(
    session: AsyncSession, channels: dict[str, uuid.UUID]
) -> None:
    shoes = await make_category(session, "Shoes")
    running = await make_category(session, "Running", parent=shoes)
    gone = await make_category(session, "Gone")
    await make_promotion(session, name="shoes", benefit={"kind": "percentage", "rate_ppm": 500_000},
                         conditions={"targets": {"category_ids": [str(shoes.id)]}})
    await make_promotion(session, name="gone", benefit={"kind": "fixed_amount", "amount": 100, "per": "line"},
                         currency="EUR", conditions={"targets": {"category_ids": [str(gone.id)]}})
    await session.execute(update(Category).where(Category.id == gone.id).values(path="elsewhere"))
    await session.delete(gone)
    await session.flush()
    cart = promo_cart(channels["web-eu"], line("run", 1000, category_path=running.path),
                      line("other", 1000, category_path=str(uuid.uuid4())))
    loaded = await promotions.active_promotions(session, channel_id=channels["web-eu"], codes=frozenset(), now=NOW)
    result = promotions.evaluate(cart, loaded, codes=frozenset(), now=NOW)
    # the deleted category's promotion matches nothing (rather than everything)
    assert {k: result.line_discount(k) for k in ("run", "other")} == {"run": 500, "other": 0}


async def test_check_code(session: AsyncSession, channels: dict[str, uuid.UUID], settings: Settings) -> None:
    (customer,) = await make_customers(session, settings)
    eu = channels["web-eu"]
    await make_promotion(session, codes=("WELCOME10",))
    await make_promotion(session, codes=("LATER",), starts_at=NOW + timedelta(hours=1))
    await make_promotion(session, codes=("ONCE",), per_customer_limit=1)
    cart = promo_cart(eu, line("a", 2500, 2))

    result = await promotions.check_code(session, " welcome10 ", cart=cart, now=NOW)
    assert (result.applied_codes, result.discount_total) == (("WELCOME10",), 500)
    for code, reason in (("nope", "promotion.not_found"), ("LATER", "promotion.not_started"),
                         ("bad code!", "promotion.not_found"), ("ONCE", "promotion.not_eligible")):
        with pytest.raises(promotions.CouponRejected) as rejected:
            await promotions.check_code(session, code, cart=cart, now=NOW, codes=frozenset({"WELCOME10"}))
        assert rejected.value.code == reason, code
    signed_in = promo_cart(eu, line("a", 2500, 2), customer_id=customer.id)
    assert (await promotions.check_code(session, "once", cart=signed_in, now=NOW)).applied_codes == ("ONCE",)
    session.add(PromotionCustomerUse(promotion_id=(await _promotion_of(session, "ONCE")).id,
                                     customer_id=customer.id, uses=1))
    await session.flush()
    with pytest.raises(promotions.CouponRejected) as used:
        await promotions.check_code(session, "once", cart=signed_in, now=NOW)
    assert used.value.code == "promotion.already_used"


async def test_failed_codes_are_rate_limited_per_client(
    session: AsyncSession, channels: dict[str, uuid.UUID]
) -> None:
    await make_promotion(session, codes=("REAL",))
    limiter = RateLimiter(MemoryStorage())
    cart = promo_cart(channels["web-eu"])

    async def attempt(code: str, client: str = "1.2.3.4") -> Exception | None:
        try:
            await promotions.check_code_guarded(session, limiter, code, client_key=client, rule="3/minute",
                                                cart=cart, now=NOW)
        except (promotions.CouponRejected, promotions.CouponRateLimited) as exc:
            return exc
        return None

    assert await attempt("REAL") is None  # successes do not count
    for guess in ("GUESS1", "GUESS2", "GUESS3"):
        assert isinstance(await attempt(guess), promotions.CouponRejected)
    blocked = await attempt("REAL")  # even a right guess is refused now: nothing is looked up
    assert isinstance(blocked, promotions.CouponRateLimited)
    assert blocked.code == "promotion.rate_limited"
    assert 1 <= blocked.retry_after_s <= 60
    assert await attempt("REAL", client="5.6.7.8") is None


async def _promotion_of(session: AsyncSession, code: str) -> Promotion:
    return (await session.execute(select(Promotion).join(PromotionCode).where(PromotionCode.code == code))).scalar_one()


async def _redeem(session: AsyncSession, cart: promotions.PromoCart, codes: set[str],
                  customer_id: uuid.UUID | None = None) -> promotions.PromoResult:
    cart = replace(cart, customer_id=customer_id)
    loaded = await promotions.active_promotions(session, channel_id=cart.channel_id, codes=frozenset(codes),
                                                now=NOW, customer_id=customer_id)
    result = promotions.evaluate(cart, loaded, codes=frozenset(codes), now=NOW)
    async with session.begin_nested():  # a failed redemption rolls back to here, like a checkout would
        await promotions.redeem(session, result, order_id=uuid.uuid4(), customer_id=customer_id, currency="EUR")
    return result


async def test_redeem_counts_every_limit(
    session: AsyncSession, channels: dict[str, uuid.UUID], settings: Settings, assert_max_queries: Callable[[int], Any],
) -> None:
    eu = channels["web-eu"]
    jane, john = await make_customers(session, settings, 2)
    limited = await make_promotion(session, name="limited", codes=("TWICE",), usage_limit=2)
    single = await make_promotion(session, name="single", codes=("SPARE",))
    await add_codes(session, single, ["ONEUSE"], max_uses=1)
    budget = await make_promotion(session, name="budget", benefit={"kind": "fixed_amount", "amount": 300},
                                  currency="EUR", budget=700, codes=("BUDGET",))
    per_customer = await make_promotion(session, name="per customer", codes=("MINE",), per_customer_limit=1)
    automatic = await make_promotion(session, name="automatic", benefit={"kind": "fixed_amount", "amount": 1},
                                     currency="EUR", priority=-1)
    cart = promo_cart(eu, line("a", 1000))

    loaded = await promotions.active_promotions(session, channel_id=eu, codes=frozenset({"TWICE"}), now=NOW)
    first = promotions.evaluate(cart, loaded, codes=frozenset({"TWICE"}), now=NOW)
    with assert_max_queries(4):  # the coupon's promotion and code, the automatic promotion, the log
        await promotions.redeem(session, first, order_id=uuid.uuid4(), customer_id=None, currency="EUR")
    await _redeem(session, cart, {"TWICE"})
    with pytest.raises(promotions.UsageLimitReached):  # a checkout that read it before it was used up
        async with session.begin_nested():
            await promotions.redeem(session, promotions.evaluate(cart, [_stale(limited)], codes=frozenset({"TWICE"}),
                                                                 now=NOW),
                                    order_id=uuid.uuid4(), customer_id=None, currency="EUR")

    await _redeem(session, cart, {"ONEUSE"})
    used_up = await _redeem(session, cart, {"ONEUSE"})  # the engine now refuses it before redeem
    assert used_up.rejections["ONEUSE"].reason == "promotion.already_used"

    for _ in range(2):
        await _redeem(session, cart, {"BUDGET"})
    trimmed = await _redeem(session, cart, {"BUDGET"})  # 700 - 600 left: the discount shrinks to 100
    assert [a.amount for a in trimmed.applied if a.code == "BUDGET"] == [100]
    assert (await _redeem(session, cart, {"BUDGET"})).rejections["BUDGET"].reason == "promotion.usage_limit_reached"

    await _redeem(session, cart, {"MINE"}, jane.id)
    assert (await _redeem(session, cart, {"MINE"}, jane.id)).rejections["MINE"].reason == "promotion.already_used"
    await _redeem(session, cart, {"MINE"}, john.id)
    with pytest.raises(promotions.UsageLimitReached):  # a guest cannot be counted per customer
        async with session.begin_nested():
            await promotions.redeem(session, promotions.evaluate(
                promo_cart(eu, customer_id=jane.id), [_stale(per_customer)], codes=frozenset({"MINE"}), now=NOW),
                order_id=uuid.uuid4(), customer_id=None, currency="EUR")

    await tally_unlimited(session)  # the promotions without a limit of their own are tallied, not counted
    for promotion in (limited, single, budget, per_customer, automatic):
        await session.refresh(promotion)
    assert (limited.uses, single.uses, budget.uses, budget.spent, per_customer.uses) == (2, 1, 3, 700, 2)
    assert automatic.uses == 11  # it applied to every order placed
    figures = await stats(session, budget)
    assert (figures.orders, figures.discount_total, figures.codes, figures.codes_used) == (3, 700, 1, 1)
    single_stats = await stats(session, single)
    assert (single_stats.codes, single_stats.codes_used, single_stats.codes_used_up) == (2, 1, 1)
    customers = await session.scalar(select(func.count()).select_from(PromotionCustomerUse))
    assert customers == 2


def _stale(promotion: Promotion) -> promotions.Promotion:
    """The engine's view of a promotion as a checkout that read it before others used it up: its
    limits as they are, its use counts from before."""
    return promotions.Promotion(id=promotion.id, name=promotion.name, benefit=Percentage(100_000),
                                trigger="coupon", codes={c: CodeState(c) for c in ("TWICE", "MINE")},
                                usage_limit=promotion.usage_limit, budget=promotion.budget,
                                per_customer_limit=promotion.per_customer_limit)


async def test_an_order_counts_a_promotion_once(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    await make_promotion(session, codes=("ONCE",))
    cart = promo_cart(channels["web-eu"])
    loaded = await promotions.active_promotions(session, channel_id=cart.channel_id, codes=frozenset({"ONCE"}),
                                                now=NOW)
    result = promotions.evaluate(cart, loaded, codes=frozenset({"ONCE"}), now=NOW)
    order = uuid.uuid4()
    await promotions.redeem(session, result, order_id=order, customer_id=None, currency="EUR")
    with pytest.raises(Conflict) as again:
        async with session.begin_nested():
            await promotions.redeem(session, result, order_id=order, customer_id=None, currency="EUR")
    assert again.value.code == "promotion.already_redeemed"
    assert await session.scalar(select(func.count()).select_from(PromotionRedemption)) == 1
    with pytest.raises(ValueError, match="USD"):
        await promotions.redeem(session, result, order_id=uuid.uuid4(), customer_id=None, currency="USD")


async def test_demo_seed_is_idempotent(session: AsyncSession, channels: dict[str, uuid.UUID]) -> None:
    assert await promotions.seed_demo(session) == 2
    assert await promotions.seed_demo(session) == 0
    cart = promo_cart(channels["web-eu"], line("a", 6000))
    result = await promotions.check_code(session, "welcome10", cart=cart, now=utcnow())
    # the automatic spend tier (priority 10) first, then 10 % of what is left
    assert [(a.label, a.amount) for a in result.applied] == [("Spend more, save more", 500),
                                                              ("Welcome: 10 % off", 550)]
    us_cart = promo_cart(channels["web-us"], line("a", 6000), currency="USD")
    assert (await promotions.check_code(session, "WELCOME10", cart=us_cart, now=utcnow())).discount_total == 600
