"""Admin writes of variants and their channel prices. A variant belongs to its product's version:
every write here locks the product row, bumps its version and records a product revision."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, String, Uuid, column, delete, func, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.ids import parse_id
from mercato.kit.outbox import emit
from mercato.modules.catalog import events, products_admin
from mercato.modules.catalog.models import Product, ProductType, Variant, VariantPrice
from mercato.modules.catalog.product_errors import HasHistory, SkuTaken, VariantNotFound, invalid
from mercato.modules.catalog.products_schemas import PriceIn, VariantIn, VariantPatchIn

# Read by table name, as the storefront does: the channels module's models are its own.
_channels = table("channels", column("id", Uuid()), column("code", String()), column("currency", String()),
                  column("is_active", Boolean()))


@dataclass(frozen=True)
class ChannelRef:
    id: uuid.UUID
    code: str
    currency: str


async def channels_by_ref(session: AsyncSession) -> dict[str, ChannelRef]:
    """Every channel under both its code and its id (a price may name either)."""
    rows = (await session.execute(select(_channels.c.id, _channels.c.code, _channels.c.currency))).all()
    refs: dict[str, ChannelRef] = {}
    for channel_id, code, currency in rows:
        ref = ChannelRef(channel_id, code, currency)
        refs[code] = ref
        refs[str(channel_id)] = ref
    return refs


# --- validation --------------------------------------------------------------------------------------

def _check_quantities(min_quantity: int, max_quantity: int | None, field: str) -> None:
    if max_quantity is not None and max_quantity < min_quantity:
        raise invalid("catalog.invalid_quantity", f"{field}max_quantity", "below_min",
                      "max_quantity must be at least min_quantity.")


def _check_options(options: dict[str, str], allowed: frozenset[str] | None, field: str) -> None:
    if allowed is None:
        return
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise invalid("catalog.invalid_options", f"{field}options.{unknown[0]}", "unknown",
                      f"Options must be among the product type's variant options {sorted(allowed)}.")
    for code, value in options.items():
        if not value.strip():
            raise invalid("catalog.invalid_options", f"{field}options.{code}", "blank", "Option values are not blank.")


def check_prices(prices: Sequence[PriceIn], channels: dict[str, ChannelRef], field: str) -> list[ChannelRef]:
    """Validate a variant's full price list; returns each price's channel. Prices of one channel may not
    overlap in time, so "the current price" is always one row."""
    resolved: list[ChannelRef] = []
    windows: dict[uuid.UUID, list[tuple[datetime | None, datetime | None]]] = {}
    for index, price in enumerate(prices):
        path = f"{field}prices.{index}."
        channel = channels.get(price.channel)
        if channel is None:
            raise invalid("catalog.unknown_channel", f"{path}channel", "unknown", f"No channel {price.channel!r}.")
        if price.currency.upper() != channel.currency:
            raise invalid("catalog.currency_mismatch", f"{path}currency", "mismatch",
                          f"Channel {channel.code!r} sells in {channel.currency}.")
        if price.compare_at_amount is not None and price.compare_at_amount < price.amount:
            raise invalid("catalog.invalid_price", f"{path}compare_at_amount", "below_amount",
                          "compare_at_amount must be at least amount.")
        if price.valid_from is not None and price.valid_to is not None and price.valid_from >= price.valid_to:
            raise invalid("catalog.invalid_price", f"{path}valid_to", "before_valid_from",
                          "valid_to must be after valid_from.")
        for start, end in windows.get(channel.id, []):
            if _overlap(start, end, price.valid_from, price.valid_to):
                raise invalid("catalog.price_overlap", f"{path}valid_from", "overlap",
                              f"Another price in channel {channel.code!r} covers the same time.")
        windows.setdefault(channel.id, []).append((price.valid_from, price.valid_to))
        resolved.append(channel)
    return resolved


def _overlap(a0: datetime | None, a1: datetime | None, b0: datetime | None, b1: datetime | None) -> bool:
    starts_before_b_ends = b1 is None or a0 is None or a0 < b1
    b_starts_before_a_ends = a1 is None or b0 is None or b0 < a1
    return starts_before_b_ends and b_starts_before_a_ends


async def _sku_free(session: AsyncSession, sku: str, own_id: uuid.UUID | None = None) -> bool:
    stmt = select(Variant.id).where(Variant.sku == sku)
    if own_id is not None:
        stmt = stmt.where(Variant.id != own_id)
    return (await session.scalar(stmt.limit(1))) is None


async def check_new_variants(
    session: AsyncSession, specs: Sequence[VariantIn], allowed: frozenset[str] | None, *, field: str,
) -> None:
    """Everything about new variants that can be refused, before anything is written."""
    if not specs:
        return
    channels = await channels_by_ref(session)
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        path = f"{field}.{index}." if field else ""
        if spec.sku in seen or not await _sku_free(session, spec.sku):
            raise SkuTaken(spec.sku, f"{path}sku")
        seen.add(spec.sku)
        _check_quantities(spec.min_quantity, spec.max_quantity, path)
        _check_options(spec.options, allowed, path)
        check_prices(spec.prices, channels, path)


async def insert_variant(
    session: AsyncSession, product: Product, spec: VariantIn, *, position: int, field: str = "",
) -> Variant:
    """Write a checked variant and its prices (no version bump: callers do it once)."""
    variant = Variant(
        product_id=product.id, sku=spec.sku, name=spec.name.strip(), options=dict(spec.options), gtin=spec.gtin,
        weight_grams=spec.weight_grams, length_mm=spec.length_mm, width_mm=spec.width_mm, height_mm=spec.height_mm,
        tax_class=spec.tax_class, track_inventory=spec.track_inventory, min_quantity=spec.min_quantity,
        max_quantity=spec.max_quantity, position=spec.position if spec.position is not None else position,
    )
    session.add(variant)
    await products_admin.flush_unique(session, sku=spec.sku)
    if spec.prices:
        await _write_prices(session, variant.id, spec.prices, await channels_by_ref(session), field)
    return variant


async def _write_prices(
    session: AsyncSession, variant_id: uuid.UUID, prices: Sequence[PriceIn], channels: dict[str, ChannelRef],
    field: str,
) -> None:
    resolved = check_prices(prices, channels, field)
    # A price for the same channel and start keeps its row, so the revision diff says "amount 5 → 6"
    # rather than "one price removed, another added".
    existing = {(p.channel_id, p.valid_from): p for p in (await session.scalars(
        select(VariantPrice).where(VariantPrice.variant_id == variant_id))).all()}
    for price, channel in zip(prices, resolved, strict=True):
        row = existing.pop((channel.id, price.valid_from), None)
        if row is None:
            row = VariantPrice(variant_id=variant_id, channel_id=channel.id, valid_from=price.valid_from)
            session.add(row)
        row.amount, row.currency, row.compare_at_amount = price.amount, channel.currency, price.compare_at_amount
        row.valid_to = price.valid_to
    for row in existing.values():
        await session.delete(row)
    await session.flush()


async def _allowed_options(session: AsyncSession, product: Product) -> frozenset[str] | None:
    if product.product_type_id is None:
        return None
    found = await session.scalar(select(ProductType.variant_options).where(ProductType.id == product.product_type_id))
    return frozenset(found or ())


# --- reads -------------------------------------------------------------------------------------------

async def get_variant(session: AsyncSession, variant_id: str) -> Variant:
    parsed = parse_id(variant_id)
    variant = await session.get(Variant, parsed) if parsed is not None else None
    if variant is None:
        raise VariantNotFound()
    return variant


async def locked_variant(session: AsyncSession, variant_id: str, if_match: str | None) -> tuple[Product, Variant]:
    """The variant and its product, the product row locked and checked against If-Match (the product's ETag)."""
    variant = await get_variant(session, variant_id)
    product = await products_admin.locked_for_write(session, variant.product_id, if_match)
    # Re-read under the product's lock: a concurrent writer may have changed or deleted the variant.
    fresh = (await session.execute(
        select(Variant).where(Variant.id == variant.id, Variant.product_id == product.id)
        .execution_options(populate_existing=True)
    )).scalar_one_or_none()
    if fresh is None:
        raise VariantNotFound()
    return product, fresh


# --- writes ------------------------------------------------------------------------------------------

async def _changed(session: AsyncSession, cache: Cache, product: Product, action: str, actor: str) -> None:
    await products_admin.touched(session, cache, product, action=action, actor=actor)
    await emit(session, events.ProductUpdated(product_id=str(product.id), version=product.version, action=action,
                                              actor=actor))


async def create_variant(
    session: AsyncSession, cache: Cache, product: Product, spec: VariantIn, *, actor: str,
) -> Variant:
    await check_new_variants(session, [spec], await _allowed_options(session, product), field="")
    last = await session.scalar(select(func.max(Variant.position)).where(Variant.product_id == product.id))
    variant = await insert_variant(session, product, spec, position=0 if last is None else last + 1)
    await _changed(session, cache, product, "variant_create", actor)
    return variant


async def update_variant(
    session: AsyncSession, cache: Cache, product: Product, variant: Variant, body: VariantPatchIn, *, actor: str,
) -> Variant:
    sent = body.model_fields_set
    for field in sorted({"sku", "name", "options", "tax_class", "track_inventory", "min_quantity", "position"} & sent):
        if getattr(body, field) is None:
            raise invalid("validation.invalid", field, "null", f"{field} cannot be null.")
    if body.sku is not None and body.sku != variant.sku and not await _sku_free(session, body.sku, variant.id):
        raise SkuTaken(body.sku)
    min_quantity = body.min_quantity if body.min_quantity is not None else variant.min_quantity
    max_quantity = body.max_quantity if "max_quantity" in sent else variant.max_quantity
    _check_quantities(min_quantity, max_quantity, "")
    if body.options is not None:
        _check_options(body.options, await _allowed_options(session, product), "")
    for field in sorted(sent):
        value = getattr(body, field)
        setattr(variant, field, value.strip() if field == "name" and isinstance(value, str) else value)
    await products_admin.flush_unique(session, sku=variant.sku)
    await _changed(session, cache, product, "variant_update", actor)
    await session.refresh(variant)
    return variant


async def delete_variant(session: AsyncSession, cache: Cache, product: Product, variant: Variant, *,
                         actor: str) -> None:
    try:
        async with session.begin_nested():
            await session.execute(delete(Variant).where(Variant.id == variant.id))
    except IntegrityError:
        raise HasHistory("variant") from None
    await _changed(session, cache, product, "variant_delete", actor)


async def replace_prices(
    session: AsyncSession, cache: Cache, product: Product, variant: Variant, prices: Sequence[PriceIn], *,
    actor: str,
) -> None:
    await _write_prices(session, variant.id, prices, await channels_by_ref(session), "")
    await _changed(session, cache, product, "prices", actor)
