"""Small factories for catalogue data: categories, brands, products with priced variants, media.

Every factory flushes; call `refresh(session)` (listing.refresh) after building, then
`await session.commit()` to make the data visible to the HTTP client.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.ids import new_id
from mercato.modules import channels
from mercato.modules.catalog import listing
from mercato.modules.catalog.models import Brand, Category, Product, ProductMedia, Variant, VariantPrice
from mercato.modules.channels.models import Channel

_seq = itertools.count(1)
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


async def _channels(session: AsyncSession) -> dict[str, tuple[uuid.UUID, str]]:
    known: dict[str, tuple[uuid.UUID, str]] | None = session.info.get("test_channels")
    if known is None:
        await channels.seed_base(session)
        rows = (await session.execute(select(Channel.code, Channel.id, Channel.currency))).all()
        known = {code: (channel_id, currency) for code, channel_id, currency in rows}
        session.info["test_channels"] = known
    return known


async def channel_ids(session: AsyncSession) -> dict[str, uuid.UUID]:
    """Seed the base channels (idempotent) and return their ids by code."""
    return {code: channel_id for code, (channel_id, _) in (await _channels(session)).items()}


async def make_category(
    session: AsyncSession,
    name: str,
    *,
    parent: Category | None = None,
    slug: str | None = None,
    position: int = 0,
    is_active: bool = True,
    description: str = "",
) -> Category:
    category_id = new_id()
    category = Category(
        id=category_id, parent_id=parent.id if parent else None, name=name,
        slug=slug or f"{name.lower().replace(' ', '-')}-{next(_seq)}",
        path=f"{parent.path}/{category_id}" if parent else str(category_id),
        depth=parent.depth + 1 if parent else 0, position=position, is_active=is_active,
        description=description,
    )
    session.add(category)
    await session.flush()
    return category


async def make_brand(session: AsyncSession, name: str, *, slug: str | None = None) -> Brand:
    brand = Brand(name=name, slug=slug or f"{name.lower().replace(' ', '-')}-{next(_seq)}")
    session.add(brand)
    await session.flush()
    return brand


@dataclass
class VariantSpec:
    """One variant: its price per channel code (minor units; the channel's currency)."""

    prices: Mapping[str, int] = field(default_factory=lambda: {"web-eu": 1000})
    sku: str | None = None
    name: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    compare_at: Mapping[str, int] = field(default_factory=dict)
    track_inventory: bool = False
    valid_from: datetime | None = None
    valid_to: datetime | None = None


async def make_product(
    session: AsyncSession,
    name: str,
    *,
    variants: Sequence[VariantSpec] | None = None,
    prices: Mapping[str, int] | None = None,
    slug: str | None = None,
    status: str = "published",
    category: Category | None = None,
    brand: Brand | None = None,
    published_at: datetime | None = None,
    rating_avg: int = 0,
    popularity: int = 0,
    description: str = "",
    attributes: Mapping[str, Any] | None = None,
    images: Iterable[str] = (),
) -> Product:
    """A product with variants (default: one variant priced `prices`, else 10.00 EUR in web-eu)."""
    n = next(_seq)
    product = Product(
        slug=slug or f"{name.lower().replace(' ', '-')}-{n}", name=name, description=description, status=status,
        category_id=category.id if category else None, brand_id=brand.id if brand else None,
        published_at=published_at or (BASE_TIME + timedelta(minutes=n)), rating_avg=rating_avg,
        popularity=popularity, attributes=dict(attributes or {}),
    )
    session.add(product)
    await session.flush()
    specs = list(variants) if variants is not None else [VariantSpec(prices=dict(prices or {"web-eu": 1000}))]
    for position, spec in enumerate(specs):
        await make_variant(session, product, spec, position=position)
    for position, url in enumerate(images):
        session.add(ProductMedia(product_id=product.id, url=url, alt=f"{name} {position}", position=position))
    await session.flush()
    return product


async def make_variant(session: AsyncSession, product: Product, spec: VariantSpec, *, position: int = 0) -> Variant:
    known = await _channels(session)
    n = next(_seq)
    variant = Variant(
        product_id=product.id, sku=spec.sku or f"SKU-{n}-{uuid.uuid4().hex[:6]}",
        name=spec.name or f"{product.name} {n}", options=dict(spec.options),
        track_inventory=spec.track_inventory, position=position,
    )
    session.add(variant)
    await session.flush()
    for code, amount in spec.prices.items():
        session.add(VariantPrice(
            variant_id=variant.id, channel_id=known[code][0], amount=amount, currency=known[code][1],
            compare_at_amount=spec.compare_at.get(code), valid_from=spec.valid_from, valid_to=spec.valid_to,
        ))
    await session.flush()
    return variant


async def refresh(session: AsyncSession, products: Sequence[Product] | None = None) -> int:
    """Rebuild the listing rows (of `products`, or of every product)."""
    await session.flush()
    return await listing.refresh(session, [p.id for p in products] if products is not None else None)
