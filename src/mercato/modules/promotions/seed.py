"""Demo promotions: the `WELCOME10` coupon the API contract promises (10 % off, every channel, no
end date) and one automatic promotion to show how they combine (spend thresholds in web-eu)."""

from __future__ import annotations

from sqlalchemy import String, Uuid, column, exists, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.promotions.models import Promotion, PromotionCode
from mercato.modules.promotions.schemas import ConditionsIn, PercentageIn, TieredIn, TierIn
from mercato.modules.promotions.service import PromotionData, create_promotion

DEMO_COUPON = "WELCOME10"
DEMO_TIERS = "Spend more, save more"

_channels = table("channels", column("id", Uuid()), column("code", String()))


async def seed_demo(session: AsyncSession) -> int:
    """Create the demo promotions that are missing (idempotent). Flushes, never commits. Returns
    the promotions added."""
    added = 0
    no_conditions = ConditionsIn().model_dump(mode="json")
    if not await session.scalar(select(exists().where(PromotionCode.code == DEMO_COUPON))):
        await create_promotion(session, PromotionData(
            name="Welcome: 10 % off", trigger="coupon",
            description="10 % off everything with the code WELCOME10.",
            benefit=PercentageIn(kind="percentage", rate_ppm=100_000).model_dump(mode="json"),
            conditions=no_conditions, stackable=False,
        ), codes=[DEMO_COUPON])
        added += 1
    web_eu = await session.scalar(select(_channels.c.id).where(_channels.c.code == "web-eu"))
    if web_eu is not None and not await session.scalar(select(exists().where(Promotion.name == DEMO_TIERS))):
        tiers = TieredIn(kind="tiered", tiers=[TierIn(threshold=5000, amount=500),
                                               TierIn(threshold=10000, amount=1500)])
        await create_promotion(session, PromotionData(
            name=DEMO_TIERS, trigger="automatic", priority=10, channel_ids=[str(web_eu)], currency="EUR",
            description="€5 off from €50, €15 off from €100 (web-eu).",
            benefit=tiers.model_dump(mode="json"), conditions=no_conditions,
        ))
        added += 1
    return added
