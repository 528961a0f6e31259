"""Re-materialise rule-based collections: price conditions move with scheduled prices, and a product
change that skipped `refresh_memberships` is caught up here."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.jobs import periodic
from mercato.modules.catalog import collections


@periodic("catalog.refresh_rule_collections", every=timedelta(minutes=5))
async def refresh_rule_collections(session: AsyncSession) -> int:
    return await collections.refresh_all(session)
