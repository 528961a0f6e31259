"""Maintains `product_listings`, the storefront's list read model, from the source tables.

One statement rebuilds the rows of the given products (or of every product) in every channel:
a product is listed in a channel when it is published and at least one of its variants has a price
there now. Call it in the same transaction as any change to a product, its variants, prices or
media, so lists never show a state that was not committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_REFRESH = """
WITH target AS (
    SELECT p.* FROM products p WHERE (CAST(:all_products AS boolean) OR p.id = ANY(:ids))
), priced AS (
    SELECT v.product_id, vp.channel_id, min(vp.amount) AS min_price, min(vp.currency) AS currency,
           bool_or(NOT v.track_inventory) AS untracked
    FROM variants v
    JOIN target t ON t.id = v.product_id
    JOIN variant_prices vp ON vp.variant_id = v.id
    WHERE (vp.valid_from IS NULL OR vp.valid_from <= now()) AND (vp.valid_to IS NULL OR vp.valid_to > now())
    GROUP BY v.product_id, vp.channel_id
), removed AS (
    DELETE FROM product_listings l
    USING target t
    WHERE l.product_id = t.id
      AND NOT EXISTS (
          SELECT 1 FROM priced pr
          WHERE pr.product_id = l.product_id AND pr.channel_id = l.channel_id AND t.status = 'published'
      )
)
INSERT INTO product_listings (product_id, channel_id, slug, name, category_path, brand_id, min_price, currency,
                              in_stock, thumbnail, rating_avg, popularity, published_at)
SELECT t.id, pr.channel_id, t.slug, t.name, c.path, t.brand_id, pr.min_price, pr.currency,
       -- Stock arrives with the inventory module; until then untracked variants count as in stock.
       pr.untracked OR NOT EXISTS (SELECT 1 FROM variants v2 WHERE v2.product_id = t.id AND v2.track_inventory),
       (SELECT m.url FROM product_media m WHERE m.product_id = t.id ORDER BY m.position LIMIT 1),
       t.rating_avg, t.popularity, coalesce(t.published_at, t.created_at)
FROM target t
JOIN priced pr ON pr.product_id = t.id
LEFT JOIN categories c ON c.id = t.category_id
WHERE t.status = 'published'
ON CONFLICT (product_id, channel_id) DO UPDATE SET
    slug = excluded.slug, name = excluded.name, category_path = excluded.category_path,
    brand_id = excluded.brand_id, min_price = excluded.min_price, currency = excluded.currency,
    in_stock = excluded.in_stock, thumbnail = excluded.thumbnail, rating_avg = excluded.rating_avg,
    popularity = excluded.popularity, published_at = excluded.published_at
"""


async def refresh(session: AsyncSession, product_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Rebuild the listing rows of `product_ids` (None: every product). Returns rows written."""
    params: dict[str, Any] = {"all_products": product_ids is None, "ids": list(product_ids or [])}
    result: Any = await session.execute(text(_REFRESH), params)
    return int(result.rowcount or 0)
