"""Promotions' worker task: the usage counters of unlimited promotions and codes, tallied from
their redemptions (checkout does not count them on their shared rows; see `redemption`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.jobs import periodic
from mercato.modules.promotions.redemption import tally_unlimited


@periodic("promotions.tally_usage", every=timedelta(minutes=1))
async def tally_usage(session: AsyncSession) -> str:
    return f"tallied={await tally_unlimited(session)}"
