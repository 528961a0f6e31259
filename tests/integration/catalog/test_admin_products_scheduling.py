"""The scheduled visibility job: products whose publish window or a price window was crossed since the
last run are re-listed; status is left alone; re-running changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import MemoryCache
from mercato.kit.clock import utcnow
from mercato.modules.catalog.models import Product, ProductListing, VariantPrice
from mercato.modules.catalog.tasks import publishing
from tests.integration.catalog.factories import VariantSpec, make_product, refresh


async def _listed(session: AsyncSession, product: Product) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(ProductListing).where(ProductListing.product_id == product.id)) or 0)


async def test_publish_and_unpublish_times_are_applied(session: AsyncSession) -> None:
    now = utcnow()
    cache = MemoryCache()
    soon = await make_product(session, "Soon")
    ending = await make_product(session, "Ending")
    await session.execute(update(Product).where(Product.id == soon.id).values(publish_at=now + timedelta(hours=1)))
    await refresh(session)
    assert await _listed(session, soon) == 0
    assert await _listed(session, ending) == 1

    # Time passes: the publish time is now behind us, the other product's window closes.
    await session.execute(update(Product).where(Product.id == soon.id).values(publish_at=now - timedelta(seconds=5)))
    await session.execute(update(Product).where(Product.id == ending.id)
                          .values(unpublish_at=now - timedelta(seconds=5)))
    ids = await publishing.relist_crossed(session, since=now - timedelta(minutes=1), cache=cache)
    assert set(ids) == {soon.id, ending.id}
    assert await _listed(session, soon) == 1
    assert await _listed(session, ending) == 0
    await session.refresh(ending)
    assert ending.status == "published"  # unlisted, not archived

    # Idempotent, and boundaries crossed before the watermark are not looked at again.
    assert set(await publishing.relist_crossed(session, since=now - timedelta(minutes=1), cache=cache)) == {
        soon.id, ending.id}
    assert await _listed(session, soon) == 1
    assert await publishing.relist_crossed(session, since=now, cache=cache) == []


async def test_price_windows_are_applied(session: AsyncSession) -> None:
    now = utcnow()
    product = await make_product(session, "Sale", variants=[VariantSpec({"web-eu": 1000})])
    sale = await make_product(session, "Later", variants=[VariantSpec({"web-eu": 500},
                                                                      valid_from=now + timedelta(hours=1))])
    await refresh(session)
    assert await _listed(session, sale) == 0
    await session.execute(update(VariantPrice).values(valid_from=now - timedelta(seconds=1))
                          .where(VariantPrice.amount == 500))
    await session.execute(update(VariantPrice).values(valid_to=now - timedelta(seconds=1))
                          .where(VariantPrice.amount == 1000))
    result = await publishing.scheduled_visibility(session, cache=MemoryCache())
    assert result.endswith("relisted=2")
    assert await _listed(session, sale) == 1
    assert await _listed(session, product) == 0


def test_watermark_parsing() -> None:
    assert publishing._watermark(None) is None
    assert publishing._watermark("garbage relisted=1") is None
    stamp = publishing._watermark("2026-01-01T00:00:00+00:00 relisted=3")
    assert stamp is not None
    assert stamp.year == 2026
