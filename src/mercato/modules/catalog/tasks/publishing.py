"""Scheduled visibility: re-list products whose publish window (publish_at/unpublish_at) or a price's
validity window (valid_from/valid_to) was crossed since the last run.

Status is left alone: a product past its unpublish_at stays `published` (the editor's decision) and
is simply not listed, as the listing's window condition says; moving the window re-lists it. The
watermark is the job's own `last_result` ("<db time> relisted=<n>"), which the scheduler keeps from
the last successful run. Each run re-covers one extra period before the watermark, so a boundary
that a slow transaction committed just behind the watermark is not missed (re-listing is idempotent).
Cached product pages are dropped once the job's transaction has committed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache, process_cache
from mercato.kit.db import after_commit
from mercato.kit.jobs import ScheduledJob, periodic
from mercato.kit.settings import load_settings
from mercato.modules.catalog import collections
from mercato.modules.catalog.detail_cache import invalidate_product

JOB = "catalog.scheduled_visibility"
EVERY = timedelta(seconds=30)

# Products with a window boundary in (since, now]; with no watermark yet, every boundary up to now.
_CROSSED = """
SELECT p.id FROM products p
WHERE p.status = 'published' AND (
    (p.publish_at <= now() AND (CAST(:since AS timestamptz) IS NULL OR p.publish_at > :since))
 OR (p.unpublish_at <= now() AND (CAST(:since AS timestamptz) IS NULL OR p.unpublish_at > :since)))
UNION
SELECT v.product_id FROM variant_prices vp
JOIN variants v ON v.id = vp.variant_id
JOIN products p ON p.id = v.product_id AND p.status = 'published'
WHERE (vp.valid_from <= now() AND (CAST(:since AS timestamptz) IS NULL OR vp.valid_from > :since))
   OR (vp.valid_to <= now() AND (CAST(:since AS timestamptz) IS NULL OR vp.valid_to > :since))
"""


def _watermark(last_result: str | None) -> datetime | None:
    if not last_result:
        return None
    try:
        return datetime.fromisoformat(last_result.split(" ", 1)[0])
    except ValueError:
        return None


async def relist_crossed(session: AsyncSession, *, since: datetime | None, cache: Cache) -> list[uuid.UUID]:
    """Refresh the listing of every product with a boundary crossed after `since`; idempotent."""
    ids = [row[0] for row in await session.execute(text(_CROSSED), {"since": since})]
    if ids:
        await collections.relist(session, ids)

        async def invalidate() -> None:
            for product_id in ids:
                await invalidate_product(cache, product_id)

        after_commit(session, invalidate)
    return ids


@periodic(JOB, every=EVERY)
async def scheduled_visibility(session: AsyncSession, *, cache: Cache | None = None) -> str:
    now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
    last = await session.scalar(select(ScheduledJob.last_result).where(ScheduledJob.name == JOB))
    since = _watermark(last)
    ids = await relist_crossed(session, since=since - EVERY if since else None,
                               cache=cache or process_cache(load_settings()))
    return f"{now.isoformat()} relisted={len(ids)}"
