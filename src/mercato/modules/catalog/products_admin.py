"""Admin writes and reads of products: create, edit, delete, the publishing workflow, and the one
path every product change takes (`touched`): bump the version, record a revision, refresh the
listing read model and drop cached renderings once the transaction commits.

Concurrency: writers lock the product row (`SELECT ... FOR UPDATE`) before comparing `If-Match`
with the row's version, so of two writers holding the same ETag the second waits, sees the new
version and gets 412 instead of overwriting the first."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from sqlalchemy import Select, delete, exists, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.db import after_commit
from mercato.kit.errors import FieldError, InvalidInput, PermissionDenied
from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.outbox import emit
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.catalog import attribute_rules, attributes_admin, collections, events, revisions, rules
from mercato.modules.catalog.detail_cache import invalidate_product
from mercato.modules.catalog.errors import ProductNotFound
from mercato.modules.catalog.models import Brand, Category, Product, ProductType, Variant, VariantPrice
from mercato.modules.catalog.product_errors import (
    CommentRequired,
    HasHistory,
    InvalidTransition,
    NotPublishable,
    ProductNotDeletable,
    SkuTaken,
    SlugTaken,
    invalid,
)
from mercato.modules.catalog.products_schemas import ProductCreateIn, ProductPatchIn, VariantIn

_SLUG_MAX = 200
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")

# Variants with their prices (channel code included) and the media summary of one product.
_DETAIL = """
SELECT coalesce((
    SELECT jsonb_agg(jsonb_build_object(
        'id', v.id, 'product_id', v.product_id, 'sku', v.sku, 'name', v.name, 'options', v.options,
        'gtin', v.gtin, 'weight_grams', v.weight_grams, 'length_mm', v.length_mm, 'width_mm', v.width_mm,
        'height_mm', v.height_mm, 'tax_class', v.tax_class, 'track_inventory', v.track_inventory,
        'min_quantity', v.min_quantity, 'max_quantity', v.max_quantity, 'position', v.position,
        'prices', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'id', vp.id, 'channel_id', vp.channel_id, 'channel', c.code, 'amount', vp.amount,
                'currency', vp.currency, 'compare_at_amount', vp.compare_at_amount,
                'valid_from', vp.valid_from, 'valid_to', vp.valid_to) ORDER BY c.code, vp.valid_from NULLS FIRST)
            FROM variant_prices vp JOIN channels c ON c.id = vp.channel_id WHERE vp.variant_id = v.id), '[]'::jsonb)
    ) ORDER BY v.position, v.sku)
    FROM variants v WHERE v.product_id = :id), '[]'::jsonb) AS variants,
    (SELECT count(*) FROM product_media m WHERE m.product_id = :id) AS media_count,
    (SELECT m.url FROM product_media m WHERE m.product_id = :id ORDER BY m.position LIMIT 1) AS thumbnail
"""


@dataclass(frozen=True)
class ProductView:
    product: Product
    variants: list[dict[str, Any]]
    media_count: int
    thumbnail: str | None

    @property
    def etag(self) -> str:
        return product_etag(self.product)


def product_etag(product: Product) -> str:
    return etag_for(product.id, product.version)


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return _SLUG_JUNK.sub("-", ascii_name).strip("-")[:_SLUG_MAX].strip("-") or "product"


# --- reads -------------------------------------------------------------------------------------------

async def get_product(session: AsyncSession, product_id: str | uuid.UUID, *, lock: bool = False) -> Product:
    parsed = product_id if isinstance(product_id, uuid.UUID) else parse_id(product_id)
    if parsed is None:
        raise ProductNotFound("No such product.")
    stmt = select(Product).where(Product.id == parsed)
    if lock:
        stmt = stmt.with_for_update()
    product = (await session.execute(stmt)).scalar_one_or_none()
    if product is None:
        raise ProductNotFound("No such product.")
    return product


async def view(session: AsyncSession, product: Product) -> ProductView:
    row = (await session.execute(text(_DETAIL), {"id": product.id})).one()
    return ProductView(product, list(row[0]), int(row[1]), row[2])


async def locked_for_write(session: AsyncSession, product_id: str | uuid.UUID, if_match: str | None) -> Product:
    """The product row, locked for the rest of the transaction, after the If-Match check."""
    product = await get_product(session, product_id, lock=True)
    check_if_match(if_match, product_etag(product))
    return product


def _filter_id(value: str | None, field: str) -> uuid.UUID | None:
    if value is None:
        return None
    parsed = parse_id(value)
    if parsed is None:
        raise InvalidInput("Invalid filter.", errors=[FieldError(f"query.{field}", "invalid", "Expected an id.")])
    return parsed


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_products(
    session: AsyncSession, *, limit: int, cursor: str | None, status: str | None = None,
    category: str | None = None, brand: str | None = None, q: str | None = None,
) -> Page[Any]:
    """Newest first (ids are time-ordered); `category` includes its descendants; `q` is a
    case-insensitive prefix of the name or of a variant's SKU."""
    variant_count = (
        select(func.count()).select_from(Variant).where(Variant.product_id == Product.id).scalar_subquery()
    )
    stmt: Select[Any] = select(
        Product.id, Product.slug, Product.name, Product.status, Product.brand_id, Product.category_id,
        Product.product_type_id, Product.version, Product.updated_at, variant_count.label("variant_count"),
    )
    if status is not None:
        stmt = stmt.where(Product.status == status)
    category_id = _filter_id(category, "category")
    if category_id is not None:
        path = select(Category.path).where(Category.id == category_id).scalar_subquery()
        subtree = select(Category.id).where(or_(Category.id == category_id, Category.path.like(path + "/%")))
        stmt = stmt.where(Product.category_id.in_(subtree))
    brand_id = _filter_id(brand, "brand")
    if brand_id is not None:
        stmt = stmt.where(Product.brand_id == brand_id)
    if q:
        pattern = _like_prefix(q)
        sku_match = exists().where(Variant.product_id == Product.id, Variant.sku.ilike(pattern, escape="\\"))
        stmt = stmt.where(or_(Product.name.ilike(pattern, escape="\\"), sku_match))
    return await keyset_page(session, stmt, [SortKey(Product.id, descending=True)], limit=limit, cursor=cursor,
                             scalars=False)


# --- shared write path ------------------------------------------------------------------------------

async def flush_unique(session: AsyncSession, *, slug: str | None = None, sku: str | None = None) -> None:
    """Flush, turning a unique violation that a concurrent writer won past our pre-check into its 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        detail = str(exc.orig)
        if "uq_products_slug" in detail:
            raise SlugTaken(slug or "") from None
        if "uq_variants_sku" in detail:
            raise SkuTaken(sku or "") from None
        raise


async def touched(
    session: AsyncSession, cache: Cache, product: Product, *, action: str, actor: str, comment: str | None = None,
) -> None:
    """Every change to a product's data ends here: new version, revision, listing, cache."""
    product.version = product.version + 1
    product.updated_at = utcnow()
    await flush_unique(session, slug=product.slug)
    await revisions.record(session, {product.id: product.version}, action=action, actor=actor, comment=comment)
    await collections.relist(session, [product.id])
    product_id = product.id
    after_commit(session, lambda: invalidate_product(cache, product_id))
    await session.refresh(product)


async def _check_refs(
    session: AsyncSession, *, brand_id: str | None, category_id: str | None, product_type_id: str | None,
    fields: set[str],
) -> dict[str, uuid.UUID | None]:
    """Resolve the referenced brand, category and product type (only those in `fields`); 422 when unknown."""
    resolved: dict[str, uuid.UUID | None] = {}
    errors: list[FieldError] = []
    for field, raw, model in (("brand_id", brand_id, Brand), ("category_id", category_id, Category),
                              ("product_type_id", product_type_id, ProductType)):
        if field not in fields:
            continue
        if raw is None:
            resolved[field] = None
            continue
        parsed = parse_id(raw)
        if parsed is None or await session.get(model, parsed) is None:
            errors.append(FieldError(field, "not_found", f"No such {field.removesuffix('_id').replace('_', ' ')}."))
            continue
        resolved[field] = parsed
    if errors:
        raise InvalidInput("The product refers to something that does not exist.", code="catalog.invalid_reference",
                           errors=errors)
    return resolved


async def _check_attributes(
    session: AsyncSession, product_type_id: uuid.UUID | None, values: dict[str, Any],
) -> dict[str, Any]:
    defs = await attributes_admin.definitions_for(session, product_type_id)
    normalised, errors = attribute_rules.check_values(defs, values)
    references = {d.code: normalised[d.code] for d in defs if d.type == "reference" and d.code in normalised}
    if references and not errors:
        found = {str(i) for i in (await session.scalars(
            select(Product.id).where(Product.id.in_([uuid.UUID(v) for v in references.values()])))).all()}
        errors = [FieldError(f"attributes.{code}", "not_found", "No such product.")
                  for code, value in sorted(references.items()) if value not in found]
    if errors:
        raise InvalidInput("Some attribute values are not valid for the product type.",
                           code="catalog.invalid_attributes", errors=errors)
    return normalised


def _check_window(publish_at: Any, unpublish_at: Any) -> None:
    if publish_at is not None and unpublish_at is not None and publish_at >= unpublish_at:
        raise invalid("catalog.invalid_window", "unpublish_at", "before_publish_at",
                      "unpublish_at must be after publish_at.")


def _clean_tags(tags: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = tag.strip()
        if not cleaned or len(cleaned) > 50:
            raise invalid("validation.invalid", "tags", "invalid", "Tags are 1 to 50 characters.")
        seen.setdefault(cleaned, None)
    return list(seen)


async def _slug_free(session: AsyncSession, slug: str, own_id: uuid.UUID | None = None) -> bool:
    stmt = select(Product.id).where(Product.slug == slug)
    if own_id is not None:
        stmt = stmt.where(Product.id != own_id)
    return (await session.scalar(stmt.limit(1))) is None


async def _generated_slug(session: AsyncSession, name: str) -> str:
    base = slugify(name)
    taken = set((await session.scalars(
        select(Product.slug).where(or_(Product.slug == base, Product.slug.like(_like_prefix(base + "-"), escape="\\")))
    )).all())
    if base not in taken:
        return base
    n = 2
    while (candidate := f"{base[:_SLUG_MAX - 8]}-{n}") in taken:
        n += 1
    return candidate


async def _variant_options(session: AsyncSession, product_type_id: uuid.UUID | None) -> frozenset[str] | None:
    if product_type_id is None:
        return None
    found = await session.scalar(select(ProductType.variant_options).where(ProductType.id == product_type_id))
    return frozenset(found or ())


# --- product writes ----------------------------------------------------------------------------------

async def create(session: AsyncSession, cache: Cache, body: ProductCreateIn, *, actor: str) -> Product:
    from mercato.modules.catalog import variants_admin  # the variant writer uses this module's write path

    refs = await _check_refs(session, brand_id=body.brand_id, category_id=body.category_id,
                             product_type_id=body.product_type_id,
                             fields={"brand_id", "category_id", "product_type_id"})
    attributes = await _check_attributes(session, refs["product_type_id"], body.attributes)
    _check_window(body.publish_at, body.unpublish_at)
    if body.slug is not None:
        if not await _slug_free(session, body.slug):
            raise SlugTaken(body.slug)
        slug = body.slug
    else:
        slug = await _generated_slug(session, body.name)
    options = await _variant_options(session, refs["product_type_id"])
    await variants_admin.check_new_variants(session, body.variants, options, field="variants")
    product = Product(
        slug=slug, name=body.name.strip(), description=nh3.clean(body.description), status="draft",
        brand_id=refs["brand_id"], category_id=refs["category_id"], product_type_id=refs["product_type_id"],
        tags=_clean_tags(body.tags), attributes=attributes, seo_title=body.seo_title,
        seo_description=body.seo_description, publish_at=body.publish_at, unpublish_at=body.unpublish_at,
        version=1,
    )
    session.add(product)
    await flush_unique(session, slug=product.slug)
    for index, spec in enumerate(body.variants):
        await variants_admin.insert_variant(session, product, spec, position=index, field=f"variants.{index}")
    await session.flush()
    await revisions.record(session, {product.id: 1}, action="create", actor=actor)
    await collections.relist(session, [product.id])
    await emit(session, events.ProductCreated(product_id=str(product.id), slug=product.slug, actor=actor))
    await session.refresh(product)
    return product


async def update(
    session: AsyncSession, cache: Cache, product: Product, body: ProductPatchIn, *, actor: str,
) -> Product:
    sent = body.model_fields_set
    if not sent:
        return product  # nothing asked: no new version, no empty revision
    refs = await _check_refs(session, brand_id=body.brand_id, category_id=body.category_id,
                             product_type_id=body.product_type_id,
                             fields=sent & {"brand_id", "category_id", "product_type_id"})
    not_null = {"name", "slug", "description", "tags", "attributes"} & sent
    for field in sorted(not_null):
        if getattr(body, field) is None:
            raise invalid("validation.invalid", field, "null", f"{field} cannot be null.")
    type_id = refs.get("product_type_id", product.product_type_id)
    if "attributes" in sent or "product_type_id" in sent:
        attributes = await _check_attributes(
            session, type_id, body.attributes if body.attributes is not None else product.attributes)
        if "product_type_id" in sent:
            await _check_existing_options(session, product.id, type_id)
    else:
        attributes = product.attributes
    publish_at = body.publish_at if "publish_at" in sent else product.publish_at
    unpublish_at = body.unpublish_at if "unpublish_at" in sent else product.unpublish_at
    _check_window(publish_at, unpublish_at)
    if body.slug is not None and body.slug != product.slug and not await _slug_free(session, body.slug, product.id):
        raise SlugTaken(body.slug)
    if body.name is not None:
        product.name = body.name.strip()
    if body.slug is not None:
        product.slug = body.slug
    if body.description is not None:
        product.description = nh3.clean(body.description)
    if body.tags is not None:
        product.tags = _clean_tags(body.tags)
    for field, value in refs.items():
        setattr(product, field, value)
    product.attributes = attributes
    for field in ("seo_title", "seo_description"):
        if field in sent:
            setattr(product, field, getattr(body, field))
    product.publish_at, product.unpublish_at = publish_at, unpublish_at
    await touched(session, cache, product, action="update", actor=actor)
    await emit(session, events.ProductUpdated(product_id=str(product.id), version=product.version, action="update",
                                              actor=actor))
    return product


async def _check_existing_options(session: AsyncSession, product_id: uuid.UUID, type_id: uuid.UUID | None) -> None:
    allowed = await _variant_options(session, type_id)
    if allowed is None:
        return
    for options in (await session.scalars(select(Variant.options).where(Variant.product_id == product_id))).all():
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise invalid("catalog.invalid_options", "product_type_id", "variant_options",
                          f"Existing variants use options {unknown} that the new product type does not define.")


async def delete_product(session: AsyncSession, cache: Cache, product: Product, *, actor: str) -> None:
    if product.status not in ("draft", "archived"):
        raise ProductNotDeletable(product.status)
    product_id = product.id
    try:
        async with session.begin_nested():
            await session.execute(delete(Product).where(Product.id == product_id))
    except IntegrityError:
        raise HasHistory("product") from None
    await emit(session, events.ProductDeleted(product_id=str(product_id), actor=actor))
    after_commit(session, lambda: invalidate_product(cache, product_id))


# --- workflow ----------------------------------------------------------------------------------------

_EVENTS: dict[str, type[Any]] = {
    "submit": events.ProductSubmitted, "approve": events.ProductPublished, "publish": events.ProductPublished,
    "unpublish": events.ProductUnpublished, "archive": events.ProductArchived,
}


async def transition(
    session: AsyncSession, cache: Cache, product: Product, action: str, *, actor: str,
    permissions: frozenset[str], comment: str | None,
) -> Product:
    """Move the product along the workflow (rules.TRANSITIONS). Order of refusals: permission (403),
    missing rejection comment (422), transition not allowed from the status (409), nothing to sell (409)."""
    needed = rules.permission_for(action)
    if "*" not in permissions and needed not in permissions:
        raise PermissionDenied(f"This needs the permission {needed!r}.")
    comment = (comment or "").strip() or None
    if action == "reject" and comment is None:
        raise CommentRequired()
    target = rules.next_status(product.status, action)
    if target is None:
        raise InvalidTransition(action, product.status)
    if target == "published" and not await _has_priced_variant(session, product.id):
        raise NotPublishable()
    product.status = target
    if action in ("approve", "reject"):
        product.review_comment = comment
    if target == "published" and product.published_at is None:
        product.published_at = utcnow()
    await touched(session, cache, product, action=action, actor=actor, comment=comment)
    event_type = _EVENTS.get(action)
    if event_type is not None:
        await emit(session, event_type(product_id=str(product.id), version=product.version, actor=actor))
    else:
        await emit(session, events.ProductUpdated(product_id=str(product.id), version=product.version,
                                                  action=action, actor=actor))
    return product


async def _has_priced_variant(session: AsyncSession, product_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(VariantPrice.id).join(Variant, Variant.id == VariantPrice.variant_id)
        .where(Variant.product_id == product_id).limit(1)
    )
    return found is not None


__all__ = ["VariantIn", "create", "delete_product", "get_product", "list_products", "locked_for_write",
           "product_etag", "touched", "transition", "update", "view"]
