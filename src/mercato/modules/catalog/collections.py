"""Collections: hand-picked (manual) or defined by rules, with membership in `collection_products`.

Rule membership is materialised: on every rule save, by the periodic sweep (tasks/collections.py),
and for given products by `refresh_memberships` (call it before `listing.refresh` after a product
change, so the listing's `collection_ids` follow). Services flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Numeric,
    Select,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mercato.kit.errors import Conflict, FieldError
from mercato.kit.ids import parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.catalog import listing
from mercato.modules.catalog.collection_rules import check_rules, referenced
from mercato.modules.catalog.models import (
    Attribute,
    Brand,
    Category,
    Collection,
    CollectionProduct,
    Product,
    Variant,
    VariantPrice,
)
from mercato.modules.catalog.taxonomy_errors import CodeTaken, CollectionNotFound, InvalidTaxonomy


class RuleBasedCollection(Conflict):
    code = "catalog.collection_rule_based"
    title = "Membership follows the rules"


# ---------------------------------------------------------------------------------------------
# rules → SQL


def _values(condition: dict[str, Any]) -> list[Any]:
    value = condition["value"]
    return list(value) if condition["op"] == "in" else [value]


def _condition_sql(condition: dict[str, Any]) -> ColumnElement[bool]:
    name, op = condition["field"], condition["op"]
    values = _values(condition)
    if name == "brand":
        return Product.brand_id.in_([uuid.UUID(v) for v in values])
    if name == "category":
        # The path names every ancestor, so "below X" is X appearing as a segment of the path.
        wrapped = literal("/") + Category.path + literal("/")
        return exists().where(Category.id == Product.category_id, or_(*[wrapped.like(f"%/{v}/%") for v in values]))
    if name == "tag":
        overlaps: ColumnElement[bool] = Product.tags.overlap(values)
        return overlaps
    if name == "price":
        now = func.now()
        amount = VariantPrice.amount >= values[0] if op == "gte" else VariantPrice.amount <= values[0]
        return exists().where(
            Variant.product_id == Product.id, VariantPrice.variant_id == Variant.id,
            VariantPrice.currency == condition["currency"], amount,
            or_(VariantPrice.valid_from.is_(None), VariantPrice.valid_from <= now),
            or_(VariantPrice.valid_to.is_(None), VariantPrice.valid_to > now),
        )
    code = name.removeprefix("attribute.")
    stored = Product.attributes[code]
    if op in ("gte", "lte"):
        raw = func.coalesce(stored["value"], stored)
        number = case((func.jsonb_typeof(raw) == "number", cast(raw.astext, Numeric)))
        return and_(number.is_not(None), number >= values[0] if op == "gte" else number <= values[0])
    matches: list[ColumnElement[bool]] = []
    for value in values:
        as_json = literal(value, JSONB)
        matches.append(stored.op("@>", is_comparison=True)(as_json))  # a scalar, or one of a multiselect's
        if not isinstance(value, str | bool):
            matches.append(stored["value"].op("@>", is_comparison=True)(as_json))  # a number with its unit
    return or_(*matches)


def rules_condition(rules: dict[str, Any]) -> ColumnElement[bool]:
    """SQL over `products` true for the products the (validated) rules select."""
    conditions = [_condition_sql(c) for c in rules.get("conditions", [])]
    if not conditions:
        return false()
    return and_(*conditions) if rules.get("match", "all") == "all" else or_(*conditions)


# ---------------------------------------------------------------------------------------------
# membership


async def _sync(
    session: AsyncSession, collection: Collection, product_ids: Sequence[uuid.UUID] | None
) -> set[uuid.UUID]:
    """Make the rule collection's membership (of `product_ids`, or of all products) match its rules.
    Returns the products that joined or left."""
    matching = rules_condition(collection.rules)
    scope: ColumnElement[bool] = true() if product_ids is None else Product.id.in_(list(product_ids))
    left = await session.execute(
        delete(CollectionProduct)
        .where(
            CollectionProduct.collection_id == collection.id,
            true() if product_ids is None else CollectionProduct.product_id.in_(list(product_ids)),
            ~select(Product.id).where(Product.id == CollectionProduct.product_id, matching).exists(),
        )
        .returning(CollectionProduct.product_id)
    )
    joined = await session.execute(
        insert(CollectionProduct)
        .from_select(
            ["collection_id", "product_id", "position"],
            select(literal(collection.id), Product.id, literal(0)).where(scope, matching),
        )
        .on_conflict_do_nothing()
        .returning(CollectionProduct.product_id)
    )
    return set(left.scalars()) | set(joined.scalars())


async def refresh_collection(session: AsyncSession, collection: Collection) -> set[uuid.UUID]:
    """Re-materialise one rule collection and re-list the products that joined or left."""
    if collection.kind != "rule":
        return set()
    changed = await _sync(session, collection, None)
    if changed:
        await listing.refresh(session, sorted(changed))
    return changed


async def refresh_memberships(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Re-evaluate every rule collection for these products (after they changed). Returns the
    products whose membership changed; the caller re-lists them (`listing.refresh`)."""
    if not product_ids:
        return set()
    changed: set[uuid.UUID] = set()
    rule_collections = (await session.execute(select(Collection).where(Collection.kind == "rule"))).scalars()
    for collection in list(rule_collections):
        changed |= await _sync(session, collection, product_ids)
    return changed


async def relist(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> None:
    """After products' data changed: their rule-collection memberships, then their listing rows
    (and those of any product whose membership moved)."""
    changed = await refresh_memberships(session, product_ids)
    await listing.refresh(session, sorted(set(product_ids) | changed))


async def refresh_all(session: AsyncSession) -> int:
    """Re-materialise every rule collection (prices start and lapse with time); re-lists changes."""
    changed: set[uuid.UUID] = set()
    rule_collections = (await session.execute(select(Collection).where(Collection.kind == "rule"))).scalars()
    for collection in list(rule_collections):
        changed |= await _sync(session, collection, None)
    if changed:
        await listing.refresh(session, sorted(changed))
    return len(changed)


# ---------------------------------------------------------------------------------------------
# admin


async def get_collection(session: AsyncSession, ref: str, *, lock: bool = False) -> Collection:
    collection_id = parse_id(ref)
    if collection_id is None:
        raise CollectionNotFound("No such collection.")
    stmt = select(Collection).where(Collection.id == collection_id)
    if lock:
        stmt = stmt.with_for_update()
    collection = (await session.execute(stmt)).scalar_one_or_none()
    if collection is None:
        raise CollectionNotFound("No such collection.")
    return collection


async def list_collections(
    session: AsyncSession, *, limit: int, cursor: str | None, published_only: bool = False
) -> Page[Collection]:
    stmt = select(Collection)
    if published_only:
        stmt = stmt.where(Collection.is_published.is_(True))
    return await keyset_page(session, stmt, [SortKey(Collection.slug)], limit=limit, cursor=cursor)


async def published_collection(session: AsyncSession, ref: str) -> Collection:
    """A published collection by id or slug (id first), else CollectionNotFound."""
    if not 0 < len(ref) <= 200 or "\x00" in ref:
        raise CollectionNotFound("No such collection.")
    ref_id = parse_id(ref)
    match = or_(Collection.id == ref_id, Collection.slug == ref) if ref_id else Collection.slug == ref
    order = [(Collection.id == ref_id).desc()] if ref_id else []
    found = (await session.execute(
        select(Collection).where(match, Collection.is_published.is_(True)).order_by(*order).limit(1)
    )).scalar_one_or_none()
    if found is None:
        raise CollectionNotFound("No such collection.")
    return found


async def _checked_rules(session: AsyncSession, kind: str, rules: dict[str, Any] | None) -> dict[str, Any]:
    if kind == "manual":
        if rules:
            raise InvalidTaxonomy("A manual collection has no rules.",
                                  errors=[FieldError("rules", "invalid", "Use kind \"rule\" for rules.")])
        return {}
    normalised, errors = check_rules(rules)
    if errors:
        raise InvalidTaxonomy("The collection's rules are not valid.", errors=errors)
    refs = referenced(normalised)
    found_brands = set((await session.execute(select(Brand.id).where(Brand.id.in_(refs.brands)))).scalars())
    found_categories = set(
        (await session.execute(select(Category.id).where(Category.id.in_(refs.categories)))).scalars())
    found_attributes = set(
        (await session.execute(select(Attribute.code).where(Attribute.code.in_(refs.attributes)))).scalars())
    problems: list[FieldError] = []
    for i, condition in enumerate(normalised["conditions"]):
        name = condition["field"]
        values = _values(condition)
        if name == "brand" and any(uuid.UUID(v) not in found_brands for v in values):
            problems.append(FieldError(f"rules.conditions[{i}].value", "unknown", "No such brand."))
        elif name == "category" and any(uuid.UUID(v) not in found_categories for v in values):
            problems.append(FieldError(f"rules.conditions[{i}].value", "unknown", "No such category."))
        elif name.startswith("attribute.") and name.removeprefix("attribute.") not in found_attributes:
            problems.append(FieldError(f"rules.conditions[{i}].field", "unknown", "No such attribute."))
    if problems:
        raise InvalidTaxonomy("The collection's rules name rows that do not exist.", errors=problems)
    return normalised


async def _slug_taken(session: AsyncSession, slug: str, except_id: uuid.UUID | None = None) -> bool:
    conditions = [Collection.slug == slug, *([Collection.id != except_id] if except_id else [])]
    return bool((await session.execute(select(exists().where(*conditions)))).scalar())


async def _flush_unique(session: AsyncSession, slug: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise CodeTaken("slug", slug) from None


@dataclass(frozen=True)
class CollectionFields:
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    rules: dict[str, Any] | None = None
    is_published: bool | None = None
    seo_title: str | None = None
    seo_description: str | None = None


async def create_collection(
    session: AsyncSession, *, kind: str, name: str, slug: str, fields: CollectionFields
) -> Collection:
    rules = await _checked_rules(session, kind, fields.rules)
    if await _slug_taken(session, slug):
        raise CodeTaken("slug", slug)
    collection = Collection(
        id=uuid.uuid4(), name=name, slug=slug, description=fields.description or "", kind=kind,
        rules=rules, is_published=bool(fields.is_published), seo_title=fields.seo_title,
        seo_description=fields.seo_description, version=1,
    )
    session.add(collection)
    await _flush_unique(session, slug)
    await refresh_collection(session, collection)
    return collection


async def update_collection(session: AsyncSession, collection: Collection, fields: CollectionFields) -> Collection:
    rules_changed = False
    if fields.rules is not None:
        new_rules = await _checked_rules(session, collection.kind, fields.rules)
        rules_changed = new_rules != collection.rules
        collection.rules = new_rules
    if fields.slug is not None and fields.slug != collection.slug:
        if await _slug_taken(session, fields.slug, collection.id):
            raise CodeTaken("slug", fields.slug)
        collection.slug = fields.slug
    for name in ("name", "description", "is_published", "seo_title", "seo_description"):
        value = getattr(fields, name)
        if value is not None:
            setattr(collection, name, value)
    collection.version += 1
    await _flush_unique(session, collection.slug)
    if rules_changed:
        await refresh_collection(session, collection)
    return collection


async def delete_collection(session: AsyncSession, collection: Collection) -> None:
    members = (await session.execute(
        delete(CollectionProduct).where(CollectionProduct.collection_id == collection.id)
        .returning(CollectionProduct.product_id)
    )).scalars().all()
    await session.execute(delete(Collection).where(Collection.id == collection.id))
    if members:
        await listing.refresh(session, list(members))


async def members(
    session: AsyncSession, collection: Collection, *, limit: int, cursor: str | None
) -> Page[Any]:
    columns: list[Any] = [CollectionProduct.position, CollectionProduct.product_id, Product.slug, Product.name,
                          Product.status]
    stmt: Select[Any] = (
        select(*columns)
        .join(Product, Product.id == CollectionProduct.product_id)
        .where(CollectionProduct.collection_id == collection.id)
    )
    keys = [SortKey(CollectionProduct.position), SortKey(CollectionProduct.product_id)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor, scalars=False)


def _manual(collection: Collection) -> None:
    if collection.kind != "manual":
        raise RuleBasedCollection("This collection's products follow its rules; edit the rules instead.")


async def _existing_products(session: AsyncSession, ids: Sequence[str], field: str) -> list[uuid.UUID]:
    parsed = [parse_id(i) for i in ids]
    found = set((await session.execute(
        select(Product.id).where(Product.id.in_([p for p in parsed if p is not None]))
    )).scalars())
    errors = [FieldError(f"{field}[{i}]", "unknown", "No such product.")
              for i, p in enumerate(parsed) if p is None or p not in found]
    if errors:
        raise InvalidTaxonomy("Some products do not exist.", errors=errors)
    return list(dict.fromkeys(p for p in parsed if p is not None))


async def add_products(session: AsyncSession, collection: Collection, product_ids: Sequence[str]) -> int:
    """Append products (already present ones keep their place). Returns how many joined."""
    _manual(collection)
    ids = await _existing_products(session, product_ids, "product_ids")
    start = (await session.execute(
        select(func.coalesce(func.max(CollectionProduct.position) + 1, 0))
        .where(CollectionProduct.collection_id == collection.id)
    )).scalar_one()
    joined = (await session.execute(
        insert(CollectionProduct)
        .values([{"collection_id": collection.id, "product_id": p, "position": start + i} for i, p in enumerate(ids)])
        .on_conflict_do_nothing()
        .returning(CollectionProduct.product_id)
    )).scalars().all()
    collection.version += 1
    if joined:
        await listing.refresh(session, list(joined))
    await session.flush()
    return len(joined)


async def remove_product(session: AsyncSession, collection: Collection, product_ref: str) -> None:
    _manual(collection)
    product_id = parse_id(product_ref)
    removed = (await session.execute(
        delete(CollectionProduct)
        .where(CollectionProduct.collection_id == collection.id, CollectionProduct.product_id == product_id)
        .returning(CollectionProduct.product_id)
    )).scalars().all() if product_id else []
    if not removed:
        raise CollectionNotFound("That product is not in this collection.")
    collection.version += 1
    await listing.refresh(session, list(removed))
    await session.flush()


async def reorder(session: AsyncSession, collection: Collection, product_ids: Sequence[str]) -> None:
    """Set the order: `product_ids` must list every member exactly once."""
    _manual(collection)
    current = set((await session.execute(
        select(CollectionProduct.product_id).where(CollectionProduct.collection_id == collection.id)
    )).scalars())
    parsed = [parse_id(p) for p in product_ids]
    if len(parsed) != len(set(parsed)) or set(parsed) != current:
        raise InvalidTaxonomy("List every product of the collection exactly once.",
                              errors=[FieldError("product_ids", "invalid", "Not the collection's members.")])
    if parsed:
        position = case({p: i for i, p in enumerate(parsed)}, value=CollectionProduct.product_id)
        await session.execute(
            update(CollectionProduct).where(CollectionProduct.collection_id == collection.id).values(position=position)
        )
    collection.version += 1
    await session.flush()
