"""Category tree, brands and product types: the admin side of the catalogue's taxonomy.

The category tree is a materialised path of ids, so moving a subtree is one UPDATE of the paths
below it (and one of the listing rows that carry those paths). Services flush, never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.clock import utcnow
from mercato.kit.db import after_commit
from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.catalog.detail_cache import invalidate_catalog
from mercato.modules.catalog.errors import BrandNotFound, CategoryNotFound
from mercato.modules.catalog.models import Attribute, Brand, Category, Product, ProductType
from mercato.modules.catalog.taxonomy_errors import (
    BrandInUse,
    CategoryCycle,
    CategoryNotEmpty,
    CodeTaken,
    InvalidTaxonomy,
    ProductTypeInUse,
    ProductTypeNotFound,
)

VARIANT_OPTION_TYPES = frozenset({"select", "swatch"})


def _invalidate_catalog_after_commit(session: AsyncSession, cache: Cache) -> None:
    after_commit(session, lambda: invalidate_catalog(cache))


async def _flush_unique(session: AsyncSession, field: str, value: str) -> None:
    """A concurrent insert of the same slug (past the look-up) is a 409, not a 500."""
    try:
        await session.flush()
    except IntegrityError:
        raise CodeTaken(field, value) from None


async def _taken(session: AsyncSession, column: Any, value: str, except_id: uuid.UUID | None = None) -> bool:
    model = column.class_
    stmt = select(exists().where(column == value, *([model.id != except_id] if except_id else [])))
    return bool((await session.execute(stmt)).scalar())


def _stamp(row: Any, *, created: bool = False) -> None:
    # Set in Python (not by the server default) so the row's ETag is known without a re-read.
    now = utcnow()
    row.updated_at = now
    if created:
        row.created_at = now


# ---------------------------------------------------------------------------------------------
# categories

# Tree-shape changes (create under a parent, move, delete) take this transaction-level lock first,
# before any row lock: two concurrent moves could otherwise each pass the cycle check against the
# other's old paths, and a child created under a subtree being moved would keep a stale path.
# They are rare admin operations, so serialising them costs nothing that matters.
_TREE_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('mercato.catalog.category_tree'))")


async def lock_tree(session: AsyncSession) -> None:
    await session.execute(_TREE_LOCK)


async def get_category(session: AsyncSession, ref: str, *, lock: bool = False) -> Category:
    category_id = parse_id(ref)
    if category_id is None:
        raise CategoryNotFound()
    stmt = select(Category).where(Category.id == category_id)
    if lock:
        stmt = stmt.with_for_update()
    category = (await session.execute(stmt)).scalar_one_or_none()
    if category is None:
        raise CategoryNotFound()
    return category


async def list_categories(
    session: AsyncSession, *, limit: int, cursor: str | None, parent_id: str | None = None, roots: bool = False
) -> Page[Category]:
    stmt = select(Category)
    if roots:
        stmt = stmt.where(Category.parent_id.is_(None))
    elif parent_id is not None:
        parent = parse_id(parent_id)
        if parent is None:
            raise CategoryNotFound()
        stmt = stmt.where(Category.parent_id == parent)
    return await keyset_page(session, stmt, [SortKey(Category.path)], limit=limit, cursor=cursor)


async def all_categories(session: AsyncSession) -> list[Category]:
    stmt = select(Category).order_by(Category.depth, Category.position, Category.name, Category.id)
    return list((await session.execute(stmt)).scalars())


async def _parent(session: AsyncSession, parent_ref: str | None, *, lock: bool = False) -> Category | None:
    if parent_ref is None:
        return None
    parent_id = parse_id(parent_ref)
    stmt = select(Category).where(Category.id == parent_id)
    if lock:
        stmt = stmt.with_for_update()
    parent = (await session.execute(stmt)).scalar_one_or_none() if parent_id else None
    if parent is None:
        raise InvalidTaxonomy("The parent category does not exist.",
                              errors=[FieldError("parent_id", "unknown", "No such category.")])
    return parent


async def create_category(
    session: AsyncSession, *, name: str, slug: str, parent_id: str | None, description: str, position: int,
    is_active: bool,
) -> Category:
    if parent_id is not None:
        await lock_tree(session)
    parent = await _parent(session, parent_id)
    if await _taken(session, Category.slug, slug):
        raise CodeTaken("slug", slug)
    category_id = uuid.uuid4()
    category = Category(
        id=category_id, parent_id=parent.id if parent else None, name=name, slug=slug,
        path=f"{parent.path}/{category_id}" if parent else str(category_id),
        depth=parent.depth + 1 if parent else 0, position=position, description=description, is_active=is_active,
    )
    _stamp(category, created=True)
    session.add(category)
    await _flush_unique(session, "slug", slug)
    return category


@dataclass(frozen=True)
class CategoryChanges:
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    position: int | None = None
    is_active: bool | None = None


async def update_category(session: AsyncSession, cache: Cache, category: Category, changes: CategoryChanges
                          ) -> Category:
    """Edit the fields sent. Paths do not change, so listings stay; cached details show the
    category's name and slug, so they are invalidated."""
    if changes.slug is not None and changes.slug != category.slug:
        if await _taken(session, Category.slug, changes.slug, category.id):
            raise CodeTaken("slug", changes.slug)
        category.slug = changes.slug
    for field in ("name", "description", "position", "is_active"):
        value = getattr(changes, field)
        if value is not None:
            setattr(category, field, value)
    _stamp(category)
    await _flush_unique(session, "slug", category.slug)
    _invalidate_catalog_after_commit(session, cache)
    return category


_MOVE_SUBTREE = text("""
UPDATE categories SET
    path = :new_path || substr(path, length(:old_path) + 1),
    depth = depth + :delta,
    parent_id = CASE WHEN id = :id THEN CAST(:parent_id AS uuid) ELSE parent_id END,
    position = CASE WHEN id = :id THEN :position ELSE position END,
    updated_at = CASE WHEN id = :id THEN :now ELSE updated_at END
WHERE path = :old_path OR path LIKE :old_path || '/%'
""")

_RELIST_SUBTREE = text("""
UPDATE product_listings SET category_path = :new_path || substr(category_path, length(:old_path) + 1)
WHERE category_path = :old_path OR category_path LIKE :old_path || '/%'
""")


async def move_category(
    session: AsyncSession, cache: Cache, category: Category, parent_ref: str | None, position: int | None
) -> Category:
    """Move the category with its whole subtree below `parent_ref` (None: to the roots): one UPDATE
    of the subtree's paths and depths, one of the listing rows carrying them. The caller holds
    `lock_tree` (taken before it locked `category`)."""
    parent = await _parent(session, parent_ref, lock=True)
    old_path = category.path
    if parent is not None and (parent.path == old_path or parent.path.startswith(old_path + "/")):
        raise CategoryCycle("A category cannot move below itself or one of its descendants.",
                            errors=[FieldError("parent_id", "cycle", "That category is inside the one moved.")])
    new_path = f"{parent.path}/{category.id}" if parent else str(category.id)
    new_depth = parent.depth + 1 if parent else 0
    params = {
        "new_path": new_path, "old_path": old_path, "delta": new_depth - category.depth, "id": category.id,
        "parent_id": parent.id if parent else None,
        "position": category.position if position is None else position, "now": utcnow(),
    }
    await session.execute(_MOVE_SUBTREE, params)
    await session.execute(_RELIST_SUBTREE, {"new_path": new_path, "old_path": old_path})
    await session.refresh(category)
    _invalidate_catalog_after_commit(session, cache)
    return category


async def delete_category(session: AsyncSession, cache: Cache, category: Category) -> None:
    has_children = exists().where(Category.parent_id == category.id)
    has_products = exists().where(Product.category_id == category.id)
    children, products = (await session.execute(select(has_children, has_products))).one()
    if children or products:
        what = "subcategories" if children else "products"
        raise CategoryNotEmpty(f"The category still has {what}; move or delete them first.")
    await session.execute(delete(Category).where(Category.id == category.id))
    _invalidate_catalog_after_commit(session, cache)


# ---------------------------------------------------------------------------------------------
# brands


async def get_brand(session: AsyncSession, ref: str, *, lock: bool = False) -> Brand:
    brand_id = parse_id(ref)
    if brand_id is None:
        raise BrandNotFound()
    stmt = select(Brand).where(Brand.id == brand_id)
    if lock:
        stmt = stmt.with_for_update()
    brand = (await session.execute(stmt)).scalar_one_or_none()
    if brand is None:
        raise BrandNotFound()
    return brand


async def list_brands(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Brand]:
    return await keyset_page(session, select(Brand), [SortKey(Brand.slug)], limit=limit, cursor=cursor)


async def create_brand(session: AsyncSession, *, name: str, slug: str) -> Brand:
    if await _taken(session, Brand.slug, slug):
        raise CodeTaken("slug", slug)
    brand = Brand(id=uuid.uuid4(), name=name, slug=slug)
    _stamp(brand, created=True)
    session.add(brand)
    await _flush_unique(session, "slug", slug)
    return brand


async def update_brand(session: AsyncSession, cache: Cache, brand: Brand, *, name: str | None, slug: str | None
                       ) -> Brand:
    if slug is not None and slug != brand.slug:
        if await _taken(session, Brand.slug, slug, brand.id):
            raise CodeTaken("slug", slug)
        brand.slug = slug
    if name is not None:
        brand.name = name
    _stamp(brand)
    await _flush_unique(session, "slug", brand.slug)
    _invalidate_catalog_after_commit(session, cache)  # product details show the brand's name and slug
    return brand


async def delete_brand(session: AsyncSession, cache: Cache, brand: Brand) -> None:
    if (await session.execute(select(exists().where(Product.brand_id == brand.id)))).scalar():
        raise BrandInUse("Products still carry this brand; change them first.")
    await session.execute(delete(Brand).where(Brand.id == brand.id))
    _invalidate_catalog_after_commit(session, cache)


# ---------------------------------------------------------------------------------------------
# product types


async def get_product_type(session: AsyncSession, ref: str, *, lock: bool = False) -> ProductType:
    type_id = parse_id(ref)
    if type_id is None:
        raise ProductTypeNotFound()
    stmt = select(ProductType).where(ProductType.id == type_id)
    if lock:
        stmt = stmt.with_for_update()
    product_type = (await session.execute(stmt)).scalar_one_or_none()
    if product_type is None:
        raise ProductTypeNotFound()
    return product_type


async def list_product_types(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[ProductType]:
    return await keyset_page(session, select(ProductType), [SortKey(ProductType.slug)], limit=limit, cursor=cursor)


async def _check_schema(
    session: AsyncSession, attributes: list[dict[str, Any]], variant_options: list[str]
) -> None:
    """Every attribute code exists (once), variant options are select/swatch attributes."""
    wanted = {str(a["code"]) for a in attributes} | set(variant_options)
    rows = await session.execute(select(Attribute.code, Attribute.type).where(Attribute.code.in_(sorted(wanted))))
    types: dict[str, str] = {code: type_ for code, type_ in rows.all()}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, entry in enumerate(attributes):
        code = str(entry["code"])
        if code not in types:
            errors.append(FieldError(f"attributes[{i}].code", "unknown", f"No attribute {code!r}."))
        elif code in seen:
            errors.append(FieldError(f"attributes[{i}].code", "duplicate", f"{code!r} is listed twice."))
        seen.add(code)
    for i, code in enumerate(variant_options):
        if code not in types:
            errors.append(FieldError(f"variant_options[{i}]", "unknown", f"No attribute {code!r}."))
        elif types[code] not in VARIANT_OPTION_TYPES:
            errors.append(FieldError(f"variant_options[{i}]", "invalid",
                                     "Variants can only vary by select or swatch attributes."))
        elif variant_options.index(code) != i:
            errors.append(FieldError(f"variant_options[{i}]", "duplicate", f"{code!r} is listed twice."))
    if errors:
        raise InvalidTaxonomy("The product type's attributes are not valid.", errors=errors)


async def create_product_type(
    session: AsyncSession, *, name: str, slug: str, attributes: list[dict[str, Any]], variant_options: list[str]
) -> ProductType:
    await _check_schema(session, attributes, variant_options)
    if await _taken(session, ProductType.slug, slug):
        raise CodeTaken("slug", slug)
    if await _taken(session, ProductType.name, name):
        raise CodeTaken("name", name)
    product_type = ProductType(id=uuid.uuid4(), name=name, slug=slug, attributes=attributes,
                               variant_options=variant_options)
    _stamp(product_type, created=True)
    session.add(product_type)
    await _flush_unique(session, "slug", slug)
    return product_type


async def update_product_type(
    session: AsyncSession, product_type: ProductType, *, name: str | None, slug: str | None,
    attributes: list[dict[str, Any]] | None, variant_options: list[str] | None,
) -> ProductType:
    await _check_schema(
        session,
        attributes if attributes is not None else list(product_type.attributes),
        variant_options if variant_options is not None else list(product_type.variant_options),
    )
    if slug is not None and slug != product_type.slug:
        if await _taken(session, ProductType.slug, slug, product_type.id):
            raise CodeTaken("slug", slug)
        product_type.slug = slug
    if name is not None and name != product_type.name:
        if await _taken(session, ProductType.name, name, product_type.id):
            raise CodeTaken("name", name)
        product_type.name = name
    if attributes is not None:
        product_type.attributes = attributes
    if variant_options is not None:
        product_type.variant_options = variant_options
    _stamp(product_type)
    await _flush_unique(session, "slug", product_type.slug)
    return product_type


async def delete_product_type(session: AsyncSession, product_type: ProductType) -> None:
    if (await session.execute(select(exists().where(Product.product_type_id == product_type.id)))).scalar():
        raise ProductTypeInUse("Products still use this type; change them first.")
    await session.execute(delete(ProductType).where(ProductType.id == product_type.id))


async def count_products_under(session: AsyncSession, path: str) -> int:
    """Products whose category is `path` or below it (for admin views)."""
    stmt = (
        select(func.count())
        .select_from(Product)
        .join(Category, Category.id == Product.category_id)
        .where((Category.path == path) | Category.path.like(path + "/%"))
    )
    return int((await session.execute(stmt)).scalar_one())
