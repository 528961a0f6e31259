"""Reading a product's revision trail, comparing two revisions, and reverting to one.

A revert restores the product's fields, variants (by id: updated, recreated with their id and SKU,
or removed when added later) and prices from the snapshot. The status is not reverted: the
workflow alone moves it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.errors import Conflict
from mercato.kit.outbox import emit
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.catalog import events, products_admin, revisions, rules
from mercato.modules.catalog.models import Brand, Category, Product, ProductRevision, ProductType, Variant, VariantPrice
from mercato.modules.catalog.product_errors import RevisionNotFound, SkuTaken, SlugTaken
from mercato.modules.catalog.variants_admin import channels_by_ref

_FIELDS = ("name", "description", "tags", "attributes", "seo_title", "seo_description")
_VARIANT_FIELDS = ("name", "options", "gtin", "weight_grams", "length_mm", "width_mm", "height_mm", "tax_class",
                   "track_inventory", "min_quantity", "max_quantity", "position")


async def list_revisions(session: AsyncSession, product_id: uuid.UUID, *, limit: int,
                         cursor: str | None) -> Page[ProductRevision]:
    stmt = select(ProductRevision).where(ProductRevision.product_id == product_id)
    return await keyset_page(session, stmt, [SortKey(ProductRevision.version, descending=True)], limit=limit,
                             cursor=cursor)


async def get_revision(session: AsyncSession, product_id: uuid.UUID, version: int) -> ProductRevision:
    found = await revisions.get(session, product_id, version)
    if found is None:
        raise RevisionNotFound(version)
    return found


async def diff(session: AsyncSession, product_id: uuid.UUID, version: int, against: int | None) -> dict[str, Any]:
    """Changes from revision `against` (default: the one before `version`) to revision `version`."""
    target = await get_revision(session, product_id, version)
    if against is None and version == 1:
        return rules.diff(None, target.snapshot)
    base = await get_revision(session, product_id, against if against is not None else version - 1)
    return rules.diff(base.snapshot, target.snapshot)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(value) if isinstance(value, str) else None


async def revert(
    session: AsyncSession, cache: Cache, product: Product, version: int, *, actor: str, comment: str | None,
) -> Product:
    snapshot = (await get_revision(session, product.id, version)).snapshot
    slug = str(snapshot["slug"])
    if slug != product.slug and (await session.scalar(
            select(Product.id).where(Product.slug == slug, Product.id != product.id).limit(1))) is not None:
        raise SlugTaken(slug)
    type_id = _uuid(snapshot.get("product_type_id"))
    if type_id is not None and await session.get(ProductType, type_id) is None:
        raise Conflict("The product type of that revision no longer exists.", code="catalog.revert_conflict")
    await _restore_variants(session, product, list(snapshot.get("variants") or []))

    product.slug = slug
    for field in _FIELDS:
        setattr(product, field, snapshot.get(field))
    product.description = product.description or ""
    product.tags = list(product.tags or [])
    product.attributes = dict(product.attributes or {})
    product.product_type_id = type_id
    brand_id, category_id = _uuid(snapshot.get("brand_id")), _uuid(snapshot.get("category_id"))
    # A brand or category deleted since is dropped, as deleting it dropped it from the product then.
    product.brand_id = brand_id if brand_id is not None and await _exists(session, Brand, brand_id) else None
    product.category_id = (category_id if category_id is not None and await _exists(session, Category, category_id)
                           else None)
    product.publish_at, product.unpublish_at = _when(snapshot.get("publish_at")), _when(snapshot.get("unpublish_at"))
    note = f"Reverted to version {version}" + (f": {comment.strip()}" if comment and comment.strip() else "")
    await products_admin.touched(session, cache, product, action="revert", actor=actor, comment=note)
    await emit(session, events.ProductUpdated(product_id=str(product.id), version=product.version, action="revert",
                                              actor=actor))
    return product


async def _exists(session: AsyncSession, model: type[Brand] | type[Category], row_id: uuid.UUID) -> bool:
    return (await session.scalar(select(model.id).where(model.id == row_id))) is not None


async def _restore_variants(session: AsyncSession, product: Product, wanted: list[dict[str, Any]]) -> None:
    current = {v.id: v for v in (await session.scalars(
        select(Variant).where(Variant.product_id == product.id).with_for_update())).all()}
    wanted_ids = {uuid.UUID(str(v["id"])) for v in wanted}
    wanted_skus = {str(v["sku"]) for v in wanted}
    taken = (await session.execute(
        select(Variant.sku).where(Variant.sku.in_(wanted_skus), Variant.product_id != product.id).limit(1)
    )).scalar_one_or_none()
    if taken is not None:
        raise SkuTaken(taken, "variants")
    gone = [variant_id for variant_id in current if variant_id not in wanted_ids]
    if gone:
        await session.execute(delete(Variant).where(Variant.id.in_(gone)))
    # Park the kept variants' SKUs first, so SKUs swapped between two variants never collide mid-way.
    for variant_id, variant in current.items():
        if variant_id in wanted_ids:
            variant.sku = f"~revert~{variant_id}"
    await session.flush()
    channels = await channels_by_ref(session)
    kept_ids = [variant_id for variant_id in current if variant_id in wanted_ids]
    if kept_ids:
        await session.execute(delete(VariantPrice).where(VariantPrice.variant_id.in_(kept_ids)))
    for item in wanted:
        variant_id = uuid.UUID(str(item["id"]))
        restored = current.get(variant_id)
        if restored is None:
            restored = Variant(id=variant_id, product_id=product.id)
            session.add(restored)
        restored.sku = str(item["sku"])
        for field in _VARIANT_FIELDS:
            setattr(restored, field, item.get(field))
        restored.options = dict(restored.options or {})
    await session.flush()
    for item in wanted:
        for price in item.get("prices") or []:
            channel = channels.get(str(price["channel_id"]))
            if channel is None:
                continue  # the channel was deleted since; its prices went with it
            session.add(VariantPrice(
                id=uuid.UUID(str(price["id"])), variant_id=uuid.UUID(str(item["id"])), channel_id=channel.id,
                amount=int(price["amount"]), currency=str(price["currency"]),
                compare_at_amount=price.get("compare_at_amount"), valid_from=_when(price.get("valid_from")),
                valid_to=_when(price.get("valid_to")),
            ))
    await session.flush()
