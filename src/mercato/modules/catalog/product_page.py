"""The storefront's product page (`GET /store/products/{id or slug}`): one statement renders it.

PostgreSQL assembles the whole document — product, brand, category, images with their
renditions, and the variants priced in the channel — so an uncached page is one round trip and
almost no Python. The result is kept in the detail cache (`detail_cache.py`) until the product
changes; the app's fast path answers repeat requests from there.

Only products published and listed in the channel are found; anything else (draft, archived,
unpriced in the channel, outside its publication window, unknown or malformed id or slug) is
ProductNotFound, and an unknown or inactive channel is UnknownChannel.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.ids import parse_id
from mercato.kit.sql import Executor, Statement
from mercato.modules.catalog import detail_cache
from mercato.modules.catalog.detail_cache import Lookup
from mercato.modules.catalog.errors import ProductNotFound, UnknownChannel
from mercato.modules.catalog.schemas import ProductDetail

_CHANNEL_CODE_MAX = 50
_REF_MAX = 200  # slugs are at most 200 characters; anything longer cannot name a row

# `json` (not `jsonb`) builders keep the keys in ProductDetail's order. A variant's price is its
# lowest current one in the channel (scheduled prices may overlap); variants with none are not
# for sale there and are left out, and a product left with no variant is not found. A variant is in
# stock when it does not track inventory or the inventory module marks it sellable in the channel
# (`inventory_availability`, read by table name); the product, when any shown variant is (the
# listing read model applies the same rule).
_RENDER = Statement("""
WITH ch AS (
    SELECT id FROM channels WHERE code = :channel AND is_active
), listed AS (
    SELECT l.product_id FROM product_listings l JOIN ch ON l.channel_id = ch.id
    WHERE l.product_id = :ref_id OR l.slug = :ref
    ORDER BY l.product_id = :ref_id DESC NULLS LAST
    LIMIT 1
), priced AS (
    SELECT v.id, v.sku, v.name, v.options, v.position, pr.amount, pr.currency, pr.compare_at_amount,
           NOT v.track_inventory OR coalesce(av.sellable, false) AS in_stock
    FROM listed JOIN variants v ON v.product_id = listed.product_id
    CROSS JOIN ch
    LEFT JOIN inventory_availability av ON av.variant_id = v.id AND av.channel_id = ch.id
    CROSS JOIN LATERAL (
        SELECT vp.amount, vp.currency, vp.compare_at_amount FROM variant_prices vp
        WHERE vp.variant_id = v.id AND vp.channel_id = ch.id
          AND (vp.valid_from IS NULL OR vp.valid_from <= now()) AND (vp.valid_to IS NULL OR vp.valid_to > now())
        ORDER BY vp.amount, vp.id LIMIT 1
    ) pr
)
SELECT EXISTS (SELECT 1 FROM ch) AS channel_found, p.slug, json_build_object(
    'id', p.id, 'slug', p.slug, 'name', p.name, 'description', p.description,
    'brand', CASE WHEN b.id IS NULL THEN NULL ELSE json_build_object('id', b.id, 'slug', b.slug, 'name', b.name) END,
    'category', CASE WHEN c.id IS NULL THEN NULL
                     ELSE json_build_object('id', c.id, 'slug', c.slug, 'name', c.name) END,
    'attributes', p.attributes,
    'images', coalesce((
        SELECT json_agg(json_build_object(
            'url', m.url, 'alt', m.alt, 'width', m.width, 'height', m.height,
            'renditions', coalesce((
                SELECT json_agg(json_build_object('width', r->'width', 'format', r->'format', 'url', r->'url')
                                ORDER BY (r->>'width')::int, r->>'format')
                FROM jsonb_array_elements(m.renditions) r), '[]'::json)
        ) ORDER BY m.position, m.id)
        FROM product_media m WHERE m.product_id = p.id AND m.status <> 'failed'), '[]'::json),
    'price', (SELECT json_build_object('amount', amount, 'currency', currency) FROM priced
              ORDER BY amount, id LIMIT 1),
    'in_stock', (SELECT bool_or(in_stock) FROM priced),
    'rating_avg', p.rating_avg, 'rating_count', p.rating_count,
    'variants', (SELECT json_agg(json_build_object(
        'id', id, 'sku', sku, 'name', name,
        'price', json_build_object('amount', amount, 'currency', currency),
        'compare_at_price', CASE WHEN compare_at_amount IS NULL THEN NULL
                                 ELSE json_build_object('amount', compare_at_amount, 'currency', currency) END,
        'in_stock', in_stock, 'options', options
    ) ORDER BY position, id) FROM priced)
)::text AS document  -- text: parsed once, by orjson, not by the driver's json codec
FROM (SELECT 1) AS one
LEFT JOIN listed ON true
LEFT JOIN products p ON p.id = listed.product_id AND p.status = 'published'
                     AND EXISTS (SELECT 1 FROM priced)
LEFT JOIN brands b ON b.id = p.brand_id
LEFT JOIN categories c ON c.id = p.category_id
""")


def _check(ref: str, channel: str) -> None:
    if not 0 < len(channel) <= _CHANNEL_CODE_MAX or "\x00" in channel:
        raise UnknownChannel(channel)
    if not 0 < len(ref) <= _REF_MAX or "\x00" in ref:
        raise ProductNotFound()


async def render(db: Executor, ref: str, channel: str) -> tuple[uuid.UUID, str, bytes]:
    """(product id, slug, the page as compact JSON bytes) straight from the database: `db` is the
    request's session or a bare connection (`kit.sql`)."""
    _check(ref, channel)
    row = await _RENDER.fetchrow(db, channel=channel, ref=ref, ref_id=parse_id(ref))
    channel_found, slug, raw = row
    if not channel_found:
        raise UnknownChannel(channel)
    if slug is None:
        raise ProductNotFound()
    document = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
    return uuid.UUID(document["id"]), slug, orjson.dumps(document)


async def product_detail_json(
    using: Callable[[], AbstractAsyncContextManager[Executor]], cache: Cache, ref: str, channel: str, *,
    found: Lookup | None = None,
) -> bytes:
    """The page as JSON bytes (a `ProductDetail`): from the cache when it holds the current
    rendering, else rendered (one statement) and cached. `using` gives what to read the database
    with, held only for that statement (not while the cache is written); `found`: the caller's own
    cache lookup."""
    _check(ref, channel)
    if found is None:
        found = await detail_cache.lookup_detail(cache, ref, channel)
    if found.body is not None:
        return found.body
    async with using() as db:
        product_id, slug, body = await render(db, ref, channel)
    await detail_cache.store(cache, found, channel, product_id, slug, body)
    return body


async def get_product_detail(session: AsyncSession, ref: str, channel: str) -> ProductDetail:
    """The page as a model, straight from the database (no cache)."""
    return ProductDetail.model_validate_json((await render(session, ref, channel))[2])
