"""Maintains `product_listings`, the storefront's list read model, from the source tables.

One statement rebuilds the rows of the given products (or of every product) in every channel:
a product is listed in a channel when it is published, inside its visibility window
(publish_at/unpublish_at), and at least one of its variants has a price there now. The row carries
the product's filterable attribute values and its collections, for the storefront's filters.
Call it in the same transaction as any change to a product, its variants, prices, media, or its
collections, so lists never show a state that was not committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_REFRESH = """
WITH target AS (
    SELECT p.*,
           -- Published and inside its visibility window (the scheduler re-lists products crossing it).
           p.status = 'published'
               AND (p.publish_at IS NULL OR p.publish_at <= now())
               AND (p.unpublish_at IS NULL OR p.unpublish_at > now()) AS listable
    FROM products p WHERE (CAST(:all_products AS boolean) OR p.id = ANY(:ids))
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
          WHERE pr.product_id = l.product_id AND pr.channel_id = l.channel_id AND t.listable
      )
)
INSERT INTO product_listings (product_id, channel_id, slug, name, category_path, brand_id, min_price, currency,
                              in_stock, thumbnail, rating_avg, popularity, published_at, attributes, collection_ids)
SELECT t.id, pr.channel_id, t.slug, t.name, c.path, t.brand_id, pr.min_price, pr.currency,
       -- Stock arrives with the inventory module; until then untracked variants count as in stock.
       pr.untracked OR NOT EXISTS (SELECT 1 FROM variants v2 WHERE v2.product_id = t.id AND v2.track_inventory),
       -- The first shown image, as its narrowest WebP rendition once the worker has made them.
       (SELECT coalesce((SELECT r->>'url' FROM jsonb_array_elements(m.renditions) r WHERE r->>'format' = 'webp'
                         ORDER BY (r->>'width')::int LIMIT 1), m.url)
        FROM product_media m WHERE m.product_id = t.id AND m.status <> 'failed'
        ORDER BY m.position, m.id LIMIT 1),
       t.rating_avg, t.popularity, coalesce(t.published_at, t.created_at),
       -- Filterable values only, each as an array (a multiselect already is one, a number keeps its
       -- value without the unit), so one containment test `{"code": [value]}` serves every type.
       (SELECT coalesce(jsonb_object_agg(a.code, CASE jsonb_typeof(t.attributes -> a.code)
                    WHEN 'array' THEN t.attributes -> a.code
                    WHEN 'object' THEN jsonb_build_array(t.attributes -> a.code -> 'value')
                    ELSE jsonb_build_array(t.attributes -> a.code) END), '{}'::jsonb)
        FROM attributes a
        WHERE a.filterable AND t.attributes ? a.code AND jsonb_typeof(t.attributes -> a.code) <> 'null'),
       -- Every collection, published or not: the storefront checks publication when it resolves one.
       ARRAY(SELECT cp.collection_id FROM collection_products cp WHERE cp.product_id = t.id)
FROM target t
JOIN priced pr ON pr.product_id = t.id
LEFT JOIN categories c ON c.id = t.category_id
WHERE t.listable
ON CONFLICT (product_id, channel_id) DO UPDATE SET
    slug = excluded.slug, name = excluded.name, category_path = excluded.category_path,
    brand_id = excluded.brand_id, min_price = excluded.min_price, currency = excluded.currency,
    in_stock = excluded.in_stock, thumbnail = excluded.thumbnail, rating_avg = excluded.rating_avg,
    popularity = excluded.popularity, published_at = excluded.published_at, attributes = excluded.attributes,
    collection_ids = excluded.collection_ids
"""


async def refresh(session: AsyncSession, product_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Rebuild the listing rows of `product_ids` (None: every product). Returns rows written."""
    params: dict[str, Any] = {"all_products": product_ids is None, "ids": list(product_ids or [])}
    result: Any = await session.execute(text(_REFRESH), params)
    return int(result.rowcount or 0)
