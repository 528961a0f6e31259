"""Benchmark-sized catalogues: grow the demo store to N products with COPY.

Generated product number g (1, 2, ...) is copy k = (g - 1) // R + 2 of real demo product
(g - 1) % R (R real products, from the UCI "Online Retail" data set, see `seed`): name
"<name> #k", slug "<slug>-k", sku "<stock code>-k" (plus "-RED"/"-BLUE" or "-M"/"-L" when it has
two variants), in the same category, at a price within ±10 % of the original, priced in every
channel the demo prices. Each carries attributes {"source", "stock_code", "seq": g}, so a rerun
with a larger N adds exactly the missing numbers and never duplicates one.

Products, variants, prices and their `product_listings` rows are COPYed a chunk at a time, each
chunk in its own transaction, so an interrupted load keeps what it committed. The listing rows are
computed here rather than by `listing.refresh` (whose per-call scans of the variant and price
tables would make a million-product load quadratic); they are exactly the rows it would write for
these products: published, every variant untracked (so in stock), no media, the lowest variant
price per channel. The tests check that `listing.refresh` leaves them unchanged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid_utils import uuid7  # UUIDv7 like kit.ids.new_id, without the conversion to uuid.UUID (asyncpg takes .bytes)

from mercato.modules.catalog.models import Category, Product, Variant, VariantPrice
from mercato.modules.catalog.seed import SOURCE, SeedRows, demo_product_type, price_channels, scale_price

MAX_PRODUCTS = 1_000_000
CHUNK_SIZE = 5_000
Progress = Callable[[int, int], None]  # (products added so far, products to add)


class DemoNotSeeded(LookupError):
    """Bulk products copy the demo store's real products, so the demo must be seeded first."""


@dataclass(frozen=True, slots=True)
class BulkResult:
    target: int  # demo products wanted in total
    existing: int  # demo products there before
    added: int
    seconds: float

    @property
    def rate(self) -> float:
        """Products added per second."""
        return self.added / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Base:
    stock_code: str
    name: str
    slug: str
    category_id: uuid.UUID | None
    popularity: int
    published_at: datetime
    price_gbp: int
    category_path: str | None


_SEQ = cast(Product.attributes["seq"].astext, Integer)
_DEMO = Product.attributes.contains({"source": SOURCE})


async def _bases(session: AsyncSession) -> list[_Base]:
    """The real demo products with their lowest GBP price, by stock code."""
    rows = await session.execute(
        select(Product.attributes["stock_code"].astext, Product.name, Product.slug, Product.category_id,
               Product.popularity, func.coalesce(Product.published_at, Product.created_at),
               func.min(VariantPrice.amount), Category.path)
        .join(Variant, Variant.product_id == Product.id)
        .join(VariantPrice, VariantPrice.variant_id == Variant.id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(_DEMO, ~Product.attributes.has_key("seq"), VariantPrice.currency == "GBP")
        .group_by(Product.id, Category.path)
        .order_by(Product.attributes["stock_code"].astext)
    )
    return [_Base(*row) for row in rows]


async def _missing(session: AsyncSession, wanted: int) -> tuple[int, list[int]]:
    """(generated products present, the numbers 1..wanted not present yet)."""
    count, highest = (await session.execute(
        select(func.count(), func.coalesce(func.max(_SEQ), 0)).where(Product.attributes.has_key("seq"))
    )).one()
    if count == highest:  # the usual case: chunks commit in order, so what exists is 1..highest
        return count, list(range(highest + 1, wanted + 1))
    present = set((await session.scalars(select(_SEQ).where(Product.attributes.has_key("seq")))).all())
    return count, [n for n in range(1, wanted + 1) if n not in present]


def _generated_slug(base: _Base, copy: int, reserved: set[str]) -> str:
    # "<real slug>-<k>" cannot collide with another generated slug (its last segment is k alone),
    # only with a real one that happens to end in "-<k>": then "-g" marks it apart.
    slug = f"{base.slug}-{copy}"
    while slug in reserved:
        slug += "-g"
    return slug


async def seed_bulk(
    sessionmaker: async_sessionmaker[AsyncSession],
    products: int,
    *,
    chunk_size: int = CHUNK_SIZE,
    concurrency: int = 2,
    on_progress: Progress | None = None,
) -> BulkResult:
    """Grow the demo catalogue to `products` products in total (at most MAX_PRODUCTS).

    Commits a chunk at a time, a transaction per chunk, on up to `concurrency` sessions from
    `sessionmaker` at once (rows are built in a thread meanwhile), so the database's work on one
    chunk overlaps the next. Raises DemoNotSeeded when the demo store is not there (run
    `seed_demo` first).
    """
    if not 0 < products <= MAX_PRODUCTS:
        raise ValueError(f"products must be between 1 and {MAX_PRODUCTS:,}")
    async with sessionmaker() as session:
        bases = await _bases(session)
        if not bases:
            raise DemoNotSeeded("Seed the demo store first (mercato seed --demo).")
        generated, missing = await _missing(session, max(0, products - len(bases)))
        channel_list = await price_channels(session)
        demo_type = await demo_product_type(session)
        await session.commit()
    reserved = {base.slug for base in bases}
    existing = len(bases) + generated
    started = time.perf_counter()
    if on_progress:
        on_progress(0, len(missing))
    chunks = iter([missing[start:start + chunk_size] for start in range(0, len(missing), chunk_size)])
    added = 0

    async def load() -> None:
        nonlocal added
        for chunk in chunks:  # workers share the iterator: each takes the next chunk when it is free
            rows = await asyncio.to_thread(_chunk_rows, chunk, bases, reserved, channel_list, demo_type)
            async with sessionmaker() as session, session.begin():
                # Losing the last chunks to a crash is harmless (a rerun adds them), so skip the flush wait.
                await session.execute(text("SET LOCAL synchronous_commit TO off"))
                await rows.write(session)
            added += len(chunk)
            if on_progress:
                on_progress(added, len(missing))

    await asyncio.gather(*(load() for _ in range(max(1, concurrency))))
    if added:
        # The planner's statistics describe the tables before the load until autovacuum catches up;
        # refreshed now, the first queries after a big load get the plans the data calls for.
        async with sessionmaker() as session, session.begin():
            await session.execute(text("ANALYZE products, variants, variant_prices, product_listings"))
    return BulkResult(products, existing, added, time.perf_counter() - started)


_VariantSpec = tuple[str, str, dict[str, str], Decimal]  # sku suffix, name, options, price factor
_TWO_COLOURS: tuple[_VariantSpec, ...] = (
    ("-RED", "Red", {"colour": "Red"}, Decimal(1)), ("-BLUE", "Blue", {"colour": "Blue"}, Decimal(1)),
)
_TWO_SIZES: tuple[_VariantSpec, ...] = (
    ("-M", "M", {"size": "M"}, Decimal(1)), ("-L", "L", {"size": "L"}, Decimal("1.05")),
)


def _chunk_rows(
    numbers: Sequence[int], bases: Sequence[_Base], reserved: set[str], channel_list: Sequence[tuple[uuid.UUID, str]],
    product_type_id: uuid.UUID,
) -> SeedRows:
    rows = SeedRows(make_id=uuid7, product_type_id=product_type_id)
    for n in numbers:
        base = bases[(n - 1) % len(bases)]
        copy = (n - 1) // len(bases) + 2
        product_id = uuid7()
        name = f"{base.name} #{copy}"[:300]
        slug = _generated_slug(base, copy, reserved)
        published_at = base.published_at + timedelta(hours=copy - 1)
        popularity = base.popularity // copy
        rows.add_product(
            product_id, slug, name,
            f"{name}. Generated from stock code {base.stock_code} of the UCI Online Retail data set.",
            base.category_id, {"source": SOURCE, "stock_code": base.stock_code, "seq": n}, published_at, popularity,
        )
        price = scale_price(base.price_gbp, Decimal(90 + (n * 37) % 21) / 100)  # 90 % .. 110 %
        variants: tuple[_VariantSpec, ...] = (
            _TWO_COLOURS if n % 4 == 0 else _TWO_SIZES if n % 4 == 2 else (("", name, {}, Decimal(1)),)
        )
        lowest = [min(amounts) for amounts in zip(*(
            rows.add_variant(product_id, f"{base.stock_code}-{copy}{suffix}", label, options, position,
                             scale_price(price, factor), channel_list)
            for position, (suffix, label, options, factor) in enumerate(variants)
        ), strict=True)]
        rows.listings.extend(
            (product_id, channel_id, slug, name, base.category_path, None, amount, currency, True, None, 0,
             popularity, published_at)
            for (channel_id, currency), amount in zip(channel_list, lowest, strict=True)
        )
    return rows
