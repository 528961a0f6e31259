"""Maintains `product_listings`, the storefront's list read model, from the source tables.

One statement rebuilds the rows of the given products (or of every product) in every channel:
a product is listed in a channel when it is published, inside its visibility window
(publish_at/unpublish_at), and at least one of its variants has a price there now. The row carries
the product's filterable attribute values and its collections, for the storefront's filters.
Call it in the same transaction as any change to a product, its variants, prices, media, or its
collections, so lists never show a state that was not committed.

`in_stock`: a variant is in stock in a channel when it does not track inventory or the inventory
module has marked it sellable there (`inventory_availability`, read by table name); a product is in
stock when any of its variants priced there now is. Stock changes need only `refresh_in_stock`.
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
           bool_or(NOT v.track_inventory OR coalesce(av.sellable, false)) AS in_stock
    FROM variants v
    JOIN target t ON t.id = v.product_id
    JOIN variant_prices vp ON vp.variant_id = v.id
    LEFT JOIN inventory_availability av ON av.variant_id = v.id AND av.channel_id = vp.channel_id
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
SELECT t.id, pr.channel_id, t.slug, t.name, c.path, t.brand_id, pr.min_price, pr.currency, pr.in_stock,
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

# Only `in_stock` of rows already listed: stock decides no listing's existence, and this runs whenever
# availability flips (checkout reservations included), so it leaves everything else alone and writes
# only rows whose value changes. Same rule as `_REFRESH`.
_SET_IN_STOCK = """
WITH stock AS (
    SELECT v.product_id, vp.channel_id, bool_or(NOT v.track_inventory OR coalesce(av.sellable, false)) AS in_stock
    FROM variants v
    JOIN variant_prices vp ON vp.variant_id = v.id
    LEFT JOIN inventory_availability av ON av.variant_id = v.id AND av.channel_id = vp.channel_id
    WHERE (CAST(:all_products AS boolean) OR v.product_id = ANY(:product_ids))
      AND (vp.valid_from IS NULL OR vp.valid_from <= now()) AND (vp.valid_to IS NULL OR vp.valid_to > now())
    GROUP BY v.product_id, vp.channel_id
)
UPDATE product_listings l SET in_stock = s.in_stock FROM stock s
WHERE l.product_id = s.product_id AND l.channel_id = s.channel_id AND l.in_stock IS DISTINCT FROM s.in_stock
"""
# Two transactions flipping two variants of one product must not each compute the product from the
# other's old state (both would keep "in stock"): the rows are locked first, in key order, and the
# value computed by the next statement, which under READ COMMITTED sees what the previous holder of
# the lock committed.
_LOCK_LISTED = """
SELECT l.product_id FROM product_listings l
WHERE l.product_id IN (SELECT product_id FROM variants WHERE id = ANY(:variant_ids))
ORDER BY l.product_id, l.channel_id
FOR UPDATE
"""


async def refresh(session: AsyncSession, product_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Rebuild the listing rows of `product_ids` (None: every product). Returns rows written."""
    params: dict[str, Any] = {"all_products": product_ids is None, "ids": list(product_ids or [])}
    result: Any = await session.execute(text(_REFRESH), params)
    return int(result.rowcount or 0)


async def refresh_in_stock(session: AsyncSession, variant_ids: Sequence[uuid.UUID] | None) -> list[uuid.UUID]:
    """Recompute `in_stock` of the listing rows of the products of `variant_ids` as `refresh` would
    (None: of every product, for bulk loads; no locks). Returns the ids of the products concerned
    that are listed somewhere (the others have no page to drop). Two statements."""
    if variant_ids is None:
        await session.execute(text(_SET_IN_STOCK), {"all_products": True, "product_ids": []})
        return []
    if not variant_ids:
        return []
    locked = await session.execute(text(_LOCK_LISTED), {"variant_ids": sorted(set(variant_ids))})
    product_ids = list(dict.fromkeys(locked.scalars()))
    if product_ids:
        await session.execute(text(_SET_IN_STOCK), {"all_products": False, "product_ids": product_ids})
    return product_ids
