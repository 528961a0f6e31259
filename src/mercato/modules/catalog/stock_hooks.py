"""What the catalogue does when stock changes: the inventory module calls `stock_changed` in the
transaction in which a variant's sellability in some channel flipped (it has already written
`inventory_availability`). Lists show the change when that transaction commits; cached product
pages are dropped once it has committed (earlier, a concurrent reader could cache the old state
under the new generation)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache, process_cache
from mercato.kit.db import after_commit
from mercato.kit.settings import load_settings
from mercato.modules.catalog import listing
from mercato.modules.catalog.detail_cache import invalidate_catalog, invalidate_product


async def stock_changed(
    session: AsyncSession, variant_ids: Sequence[uuid.UUID] | None, *, cache: Cache | None = None
) -> None:
    """Re-list the products of `variant_ids` (None: every product, after a bulk stock load) and drop
    their cached pages after commit. Two statements (one when none of them is listed).

    `cache`: the app's (`request.app.state.cache`) when the caller has it; otherwise this process's
    job cache, whose invalidations reach the app's cache through Redis or the cache bus."""
    product_ids = await listing.refresh_in_stock(session, variant_ids)
    if variant_ids is None:
        after_commit(session, lambda: invalidate_catalog(cache or _process_cache()))
    elif product_ids:

        async def invalidate() -> None:
            target = cache or _process_cache()
            for product_id in product_ids:
                await invalidate_product(target, product_id)

        after_commit(session, invalidate)


def _process_cache() -> Cache:
    return process_cache(load_settings())
