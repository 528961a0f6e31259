"""Product revisions: after every change, the product's full state (fields, variants, prices) is
stored with who did it and the field-level difference from the previous revision.

Snapshot format (JSON; ids as strings, times RFC 3339):
    {"slug", "name", "description", "status", "product_type_id", "brand_id", "category_id", "tags",
     "attributes", "seo_title", "seo_description", "publish_at", "unpublish_at",
     "variants": [{"id", "sku", "name", "options", "gtin", "weight_grams", "length_mm", "width_mm",
                   "height_mm", "tax_class", "track_inventory", "min_quantity", "max_quantity",
                   "position", "prices": [{"id", "channel_id", "amount", "currency",
                                           "compare_at_amount", "valid_from", "valid_to"}]}]}
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.catalog import rules
from mercato.modules.catalog.models import ProductRevision

# One statement for any number of products: fields, variants in position order, prices per variant.
# Public because the importer embeds it to write first revisions in bulk (a test keeps the two equal).
SNAPSHOTS_SQL = """
SELECT p.id, jsonb_build_object(
    'slug', p.slug, 'name', p.name, 'description', p.description, 'status', p.status,
    'product_type_id', p.product_type_id, 'brand_id', p.brand_id, 'category_id', p.category_id,
    'tags', to_jsonb(p.tags), 'attributes', p.attributes, 'seo_title', p.seo_title,
    'seo_description', p.seo_description, 'publish_at', p.publish_at, 'unpublish_at', p.unpublish_at,
    'variants', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'id', v.id, 'sku', v.sku, 'name', v.name, 'options', v.options, 'gtin', v.gtin,
            'weight_grams', v.weight_grams, 'length_mm', v.length_mm, 'width_mm', v.width_mm,
            'height_mm', v.height_mm, 'tax_class', v.tax_class, 'track_inventory', v.track_inventory,
            'min_quantity', v.min_quantity, 'max_quantity', v.max_quantity, 'position', v.position,
            'prices', coalesce((
                SELECT jsonb_agg(jsonb_build_object(
                    'id', vp.id, 'channel_id', vp.channel_id, 'amount', vp.amount, 'currency', vp.currency,
                    'compare_at_amount', vp.compare_at_amount, 'valid_from', vp.valid_from,
                    'valid_to', vp.valid_to) ORDER BY vp.channel_id, vp.valid_from NULLS FIRST, vp.id)
                FROM variant_prices vp WHERE vp.variant_id = v.id), '[]'::jsonb)
        ) ORDER BY v.position, v.sku)
        FROM variants v WHERE v.product_id = p.id), '[]'::jsonb)
) AS snapshot
FROM products p WHERE p.id = ANY(:ids)
"""

# The latest revision of each product, for the difference a new revision records.
_LATEST = """
SELECT DISTINCT ON (product_id) product_id, snapshot FROM product_revisions
WHERE product_id = ANY(:ids) ORDER BY product_id, version DESC
"""


async def snapshots(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The current state of each product as stored in a revision (flush pending changes first)."""
    if not product_ids:
        return {}
    rows = await session.execute(text(SNAPSHOTS_SQL), {"ids": list(product_ids)})
    return {row[0]: row[1] for row in rows}


async def record(
    session: AsyncSession,
    versions: dict[uuid.UUID, int],
    *,
    action: str,
    actor: str,
    comment: str | None = None,
) -> list[ProductRevision]:
    """Store a revision for each product in `versions` (product id -> its new `products.version`),
    with the difference from its previous revision. Call after the change is flushed."""
    ids = list(versions)
    current = await snapshots(session, ids)
    previous = {row[0]: row[1] for row in await session.execute(text(_LATEST), {"ids": ids})}
    revisions = [
        ProductRevision(
            product_id=product_id, version=versions[product_id], action=action, actor=actor, comment=comment,
            snapshot=current[product_id], changes=rules.diff(previous.get(product_id), current[product_id]),
        )
        for product_id in ids
        if product_id in current
    ]
    session.add_all(revisions)
    await session.flush()
    return revisions


async def get(session: AsyncSession, product_id: uuid.UUID, version: int) -> ProductRevision | None:
    found: ProductRevision | None = await session.scalar(
        select(ProductRevision).where(ProductRevision.product_id == product_id, ProductRevision.version == version)
    )
    return found
