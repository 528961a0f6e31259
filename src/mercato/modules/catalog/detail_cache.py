"""The cache of rendered product details: keys, generations, lookup and invalidation.

A rendering is stored under the product's current generation (catalogue-wide generation plus the
product's own), so `invalidate_product` / `invalidate_catalog` make every old copy unreachable in
O(1) without finding it. A slug maps to "<product id> <generation>" so a lookup by slug needs no
database either.

Writers call the invalidators *after* their transaction commits (`mercato.kit.db.after_commit`);
invalidating earlier lets a concurrent reader cache the old state under the new generation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mercato.kit.cache import Cache, invalidate_tag, tag_generation
from mercato.kit.ids import parse_id
from mercato.modules import channels

DETAIL_TTL_S = 300
CATALOG_TAG = "catalog"


def product_tag(product_id: uuid.UUID | str) -> str:
    return f"catalog:product:{product_id}"


def detail_key(channel: str, product_id: uuid.UUID, generation: str) -> str:
    return f"catalog:detail:{channel}:{product_id}:{generation}"


def slug_key(slug: str) -> str:
    return f"catalog:slug:{slug}"


async def invalidate_product(cache: Cache, product_id: uuid.UUID | str) -> None:
    """Make every cached rendering of the product (all channels, by id and by slug) unreachable.
    Call after the transaction that changed it (or its variants, prices, media, stock) commits."""
    await invalidate_tag(cache, product_tag(product_id))


async def invalidate_catalog(cache: Cache) -> None:
    """Make every cached product rendering unreachable (category renames, bulk imports)."""
    await invalidate_tag(cache, CATALOG_TAG)


async def storefront_generation(cache: Cache) -> str:
    """What every cached storefront answer depends on: the catalogue as a whole and the channels
    (a deactivated channel must stop serving cached pages)."""
    return f"{await tag_generation(cache, CATALOG_TAG)}.{await tag_generation(cache, channels.CACHE_TAG)}"


async def generation(cache: Cache, catalog_generation: str, product_id: uuid.UUID) -> str:
    return f"{catalog_generation}.{await tag_generation(cache, product_tag(product_id))}"


@dataclass(frozen=True)
class Lookup:
    body: bytes | None
    catalog_generation: str
    product_id: uuid.UUID | None  # known from the ref or the slug map; None: ask the database
    generation: str | None


async def lookup_detail(cache: Cache, ref: str, channel: str) -> Lookup:
    """The cached rendering of `ref` (id or slug) in `channel`, if one is current.

    The generation is read before the database, so a change committed (and invalidated) while the
    caller then reads the database can only be stored under a generation nobody asks for any more.
    A slug seen for the first time has no known id yet: its generation is read just after the
    database, a window of microseconds in which a concurrent invalidation could be missed (bounded
    by the TTL)."""
    catalog_generation = await storefront_generation(cache)
    product_id = parse_id(ref)
    current: str | None = None
    if product_id is None:
        mapped = await cache.get(slug_key(ref))
        if mapped is not None:
            raw_id, _, mapped_generation = mapped.decode().partition(" ")
            product_id = parse_id(raw_id)
            if product_id is not None:
                current = await generation(cache, catalog_generation, product_id)
                if current != mapped_generation:  # the slug may have moved: ask the database
                    product_id, current = None, None
    else:
        current = await generation(cache, catalog_generation, product_id)
    body = None
    if product_id is not None and current is not None:
        body = await cache.get(detail_key(channel, product_id, current))
    return Lookup(body, catalog_generation, product_id, current)


async def store(cache: Cache, found: Lookup, channel: str, product_id: uuid.UUID, slug: str, body: bytes) -> None:
    """Cache a rendering read from the database after `found` missed."""
    current = found.generation
    if current is None or found.product_id != product_id:
        current = await generation(cache, found.catalog_generation, product_id)
    await cache.set(detail_key(channel, product_id, current), body, DETAIL_TTL_S)
    await cache.set(slug_key(slug), f"{product_id} {current}".encode(), DETAIL_TTL_S)
