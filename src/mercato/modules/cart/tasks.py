"""Cart sweeps run by the worker: `cart.abandoned` after a spell of inactivity, and purging carts
past their lifetime (rules: GUEST_TTL, CUSTOMER_TTL, COMPLETED_TTL, ABANDONED_AFTER)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.jobs import periodic
from mercato.modules.cart import sweeps


@periodic("cart.notice_abandoned", every=timedelta(minutes=15))
async def notice_abandoned(session: AsyncSession) -> str:
    return f"abandoned={await sweeps.notice_abandoned(session)}"


@periodic("cart.purge_expired", every=timedelta(hours=1))
async def purge_expired(session: AsyncSession) -> str:
    return f"purged={await sweeps.purge_expired(session)}"
