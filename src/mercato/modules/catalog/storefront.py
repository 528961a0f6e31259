"""Storefront catalogue reads: product lists, product detail and the category tree, per channel.

Lists are served from `product_listings` (the read model `listing.refresh` maintains): one
statement resolves the channel and the filters, one reads the page through the index of the sort.
Product detail is rendered once and kept in the cache facade under a per-product generation, so
`invalidate_product(cache, product_id)` makes every cached copy unreachable in O(1).

Cache invalidation contract for writers: call `invalidate_product` (or `invalidate_catalog` after a
change that touches many products, such as a category rename or a bulk import) *after* the
transaction commits (`mercato.kit.db.after_commit`); invalidating before the commit lets a
concurrent reader cache the old state under the new generation.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson
from sqlalchemy import Boolean, String, Uuid, and_, column, func, or_, select, table, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mercato.kit.cache import Cache, invalidate_tag, tag_generation
from mercato.kit.db import after_commit
from mercato.kit.errors import FieldError, InvalidInput
from mercato.kit.ids import parse_id
from mercato.kit.pagination import MAX_LIMIT, InvalidCursor, SortKey, decode_for, encode_cursor
from mercato.modules.catalog.detail_cache import storefront_generation
from mercato.modules.catalog.errors import BrandNotFound, CategoryNotFound, UnknownChannel
from mercato.modules.catalog.models import (
    Attribute,
    Brand,
    Category,
    Collection,
    ProductListing,
)
from mercato.modules.catalog.schemas import (
    CategoryCount,
    CategoryDetail,
    CategoryNode,
    CategoryTree,
    Ref,
)
from mercato.modules.catalog.taxonomy_errors import CollectionNotFound, UnknownAttribute

# The channel is resolved inside each storefront statement (joined with the filters or the product),
# so it costs no query of its own; `channels.channel_by_code` would add one to every hot path, and a
# process-local cache of it would miss deactivations made by other processes. So the table is read
# by name (as a foreign key names it), never through the channels module's models.
_channels = table(
    "channels",
    column("id", Uuid()),
    column("code", String()),
    column("currency", String()),
    column("is_active", Boolean()),
)

_CHANNEL_CODE_MAX = 50
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_REF_MAX = 200  # slugs are at most 200 characters; anything longer cannot name a row

L = ProductListing

Sort = Literal["newest", "price", "-price", "name", "rating", "popularity"]
SORTS: tuple[str, ...] = get_args(Sort)

# Each sort: a short tag bound into its cursors, and the keys of its listing index.
_SORT_KEYS: dict[str, tuple[str, list[SortKey]]] = {
    "newest": ("n", [SortKey(L.published_at, descending=True), SortKey(L.product_id, descending=True)]),
    "price": ("p", [SortKey(L.min_price), SortKey(L.product_id)]),
    "-price": ("P", [SortKey(L.min_price, descending=True), SortKey(L.product_id, descending=True)]),
    "name": ("a", [SortKey(L.name), SortKey(L.product_id)]),
    "rating": ("r", [SortKey(L.rating_avg, descending=True), SortKey(L.product_id, descending=True)]),
    "popularity": ("o", [SortKey(L.popularity, descending=True), SortKey(L.product_id, descending=True)]),
}


@dataclass(frozen=True)
class ProductQuery:
    channel: str
    limit: int
    cursor: str | None = None
    sort: Sort = "newest"
    category: str | None = None  # id or slug; the subtree below it is included
    brand: str | None = None  # id or slug
    min_price: int | None = None  # minor units, inclusive
    max_price: int | None = None  # minor units, inclusive
    in_stock: bool | None = None  # True: only in stock; False: only out of stock; None: both
    collection: str | None = None  # id or slug of a published collection
    # Filterable attribute code -> accepted values (any of them); several codes must all match.
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()


# ---------------------------------------------------------------------------------------------
# helpers


def _usable(ref: str) -> bool:
    return 0 < len(ref) <= _REF_MAX and "\x00" not in ref


def _matches(id_col: Any, slug_col: Any, ref: str) -> ColumnElement[bool]:
    """`ref` names a row by id (when it parses as one) or by slug."""
    ref_id = parse_id(ref)
    if ref_id is None:
        return slug_col == ref  # type: ignore[no-any-return]
    return or_(id_col == ref_id, slug_col == ref)


def _prefers_id(id_col: Any, ref: str) -> list[ColumnElement[Any]]:
    """Order keys putting an id match before a slug match (a slug may look like another row's id)."""
    ref_id = parse_id(ref)
    return [(id_col == ref_id).desc()] if ref_id is not None else []


def _in_subtree(path_col: Any, path: str) -> ColumnElement[bool]:
    """`path_col` is `path` or below it: LIKE '<path>%', plus the equivalent range in the
    text_pattern_ops operator family so a generic (prepared) plan can still use the index."""
    upper = path[:-1] + chr(ord(path[-1]) + 1)
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return and_(
        path_col.op("~>=~", is_comparison=True)(path),
        path_col.op("~<~", is_comparison=True)(upper),
        path_col.like(escaped + "%", escape="\\"),
    )


def _check_channel(code: str) -> None:
    """Refuse codes no channel can have (and PostgreSQL cannot even compare: NUL)."""
    if not 0 < len(code) <= _CHANNEL_CODE_MAX or "\x00" in code:
        raise UnknownChannel(code)


def _channel_where(code: str) -> ColumnElement[bool]:
    _check_channel(code)
    return and_(_channels.c.code == code, _channels.c.is_active.is_(True))


def _bad_cursor() -> InvalidCursor:
    return InvalidCursor(
        "The cursor is not valid for this list.",
        errors=[FieldError("cursor", "invalid",
                           "Use next_cursor from a previous page, unchanged, with the same sort.")],
    )


# ---------------------------------------------------------------------------------------------
# product list


# The page statement is written out rather than built with the ORM: it is the storefront's hottest
# query, and building and executing it through the ORM cost more CPU than everything else in the
# request together. Only fixed SQL fragments and $n placeholders are joined; values are parameters.
_LIST_COLUMNS = "product_id, slug, name, min_price, currency, in_stock, thumbnail"
_SORT_SQL: dict[str, tuple[str, str, str]] = {  # sort -> (column, direction, comparison after the cursor)
    "newest": ("published_at", "DESC", "<"),
    "price": ("min_price", "ASC", ">"),
    "-price": ("min_price", "DESC", "<"),
    "name": ("name", "ASC", ">"),
    "rating": ("rating_avg", "DESC", "<"),
    "popularity": ("popularity", "DESC", "<"),
}


async def list_products_json(db: AsyncSession | AsyncConnection, cache: Cache, query: ProductQuery) -> bytes:
    """One page of the channel's listed products as JSON (a `ProductList`): one statement reads the
    page through the index of its sort, whatever the page size or depth. What the channel code and
    the category, brand, collection and attribute filters stand for is resolved by a second
    statement the first time and then kept in the cache until the catalogue or the channels change."""
    tag, keys = _SORT_KEYS[query.sort]
    after: list[Any] | None = None
    if query.cursor is not None:
        cursor_tag, dot, inner_cursor = query.cursor.partition(".")
        if not dot or cursor_tag != tag or not inner_cursor:
            raise _bad_cursor()  # a cursor of another sort would silently skip or repeat rows
        try:
            after = decode_for(keys, inner_cursor)
        except InvalidCursor:
            raise _bad_cursor() from None

    filters = await _cached_list_filters(db, cache, query)
    args: list[Any] = [filters.channel_id]

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["channel_id = $1"]
    if filters.category_path is not None:
        path = filters.category_path
        # LIKE '<path>%' plus the same range in the text_pattern_ops operator family, so a generic
        # (prepared) plan can still use the index.
        escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        upper = path[:-1] + chr(ord(path[-1]) + 1)
        where.append(f"category_path ~>=~ {param(path)} AND category_path ~<~ {param(upper)}"
                     f" AND category_path LIKE {param(escaped + '%')} ESCAPE '\\'")
    if filters.brand_id is not None:
        where.append(f"brand_id = {param(filters.brand_id)}")
    if query.min_price is not None:
        where.append(f"min_price >= {param(query.min_price)}")
    if query.max_price is not None:
        where.append(f"min_price <= {param(query.max_price)}")
    if query.in_stock is not None:
        where.append(f"in_stock = {param(query.in_stock)}")
    if filters.collection_id is not None:
        where.append(f"collection_ids @> ARRAY[{param(filters.collection_id)}]::uuid[]")
    for code, values in query.attributes:
        wanted = [_attribute_value(code, filters.attribute_types[code], v) for v in values]
        # Each value as its own containment test, so the GIN index on `attributes` serves every one.
        tests = [f"attributes @> {param(orjson.dumps({code: [value]}).decode())}::jsonb" for value in wanted]
        where.append(f"({' OR '.join(tests)})")
    column, direction, beyond = _SORT_SQL[query.sort]
    if after is not None:
        # A row comparison: the index range scan starts at the cursor, so deep pages cost what the first does.
        where.append(f"({column}, product_id) {beyond} ({param(after[0])}, {param(after[1])})")
    limit = max(1, min(query.limit, MAX_LIMIT))
    sql = (f"SELECT {_LIST_COLUMNS}, {column} FROM product_listings WHERE {' AND '.join(where)} "  # noqa: S608
           f"ORDER BY {column} {direction}, product_id {direction} LIMIT {param(limit + 1)}")
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    rows: list[Any] = list((await connection.exec_driver_sql(sql, tuple(args))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"{tag}.{encode_cursor([last[7], uuid.UUID(str(last[0]))])}"
    return orjson.dumps({
        "items": [
            {"id": str(row[0]), "slug": row[1], "name": row[2], "price": {"amount": row[3], "currency": row[4]},
             "in_stock": row[5], "thumbnail": row[6]}
            for row in rows
        ],
        "next_cursor": next_cursor,
    })


MAX_ATTRIBUTE_FILTERS = 20
MAX_ATTRIBUTE_VALUES = 20


@dataclass(frozen=True)
class _Filters:
    channel_id: uuid.UUID
    category_path: str | None
    brand_id: uuid.UUID | None
    collection_id: uuid.UUID | None
    attribute_types: dict[str, str]


def _unknown_attribute(code: str, message: str = "Not a filterable attribute.") -> UnknownAttribute:
    return UnknownAttribute(f"There is no filterable attribute {code!r}.",
                            errors=[FieldError(f"query.attr.{code}", "unknown", message)])


def _attribute_value(code: str, type_: str, raw: str) -> Any:
    """A query string value as the listing stores it for the attribute's type."""
    if type_ == "boolean":
        if raw not in ("true", "false"):
            raise _bad_attribute_value(code, "Use true or false.")
        return raw == "true"
    if type_ == "number":
        try:
            number = float(raw)
        except ValueError:
            raise _bad_attribute_value(code, "Expected a number.") from None
        if not math.isfinite(number):
            raise _bad_attribute_value(code, "Expected a number.")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return raw


def _bad_attribute_value(code: str, message: str) -> InvalidInput:
    return InvalidInput(f"Bad value for attribute {code!r}.",
                        errors=[FieldError(f"query.attr.{code}", "invalid", message)])


def _check_attribute_filters(query: ProductQuery) -> None:
    if len(query.attributes) > MAX_ATTRIBUTE_FILTERS:
        raise InvalidInput("Too many attribute filters.", errors=[
            FieldError("query.attr", "too_many", f"At most {MAX_ATTRIBUTE_FILTERS} attributes.")])
    for code, values in query.attributes:
        if not _CODE.match(code):
            raise _unknown_attribute(code)
        if not 0 < len(values) <= MAX_ATTRIBUTE_VALUES or any(not 0 < len(v) <= _REF_MAX or "\x00" in v
                                                               for v in values):
            raise _bad_attribute_value(code, f"1 to {MAX_ATTRIBUTE_VALUES} values of at most {_REF_MAX} characters.")


FILTERS_TTL_S = 300


def invalidate_filters_after_commit(session: AsyncSession, cache: Cache) -> None:
    """For changes to what a filter names (a collection published or renamed, an attribute made
    filterable) that do not otherwise invalidate the catalogue."""
    after_commit(session, lambda: invalidate_tag(cache, _FILTERS_TAG))


_FILTERS_TAG = "catalog:filters"


async def _cached_list_filters(db: AsyncSession | AsyncConnection, cache: Cache, query: ProductQuery) -> _Filters:
    _check_attribute_filters(query)
    generation = f"{await storefront_generation(cache)}.{await tag_generation(cache, _FILTERS_TAG)}"
    # The filter values are free text, so they are hashed into the key rather than spliced in.
    spec = orjson.dumps([query.channel, query.category, query.brand, query.collection,
                         sorted(code for code, _ in query.attributes)])
    key = f"catalog:filters:{generation}:{hashlib.blake2b(spec, digest_size=16).hexdigest()}"
    cached = await cache.get(key)
    if cached is not None:
        channel_id, category_path, brand_id, collection_id, attribute_types = orjson.loads(cached)
        return _Filters(uuid.UUID(channel_id), category_path, _uuid_or_none(brand_id), _uuid_or_none(collection_id),
                        attribute_types)
    filters = await _resolve_list_filters(db, query)
    await cache.set(key, orjson.dumps([
        str(filters.channel_id), filters.category_path, filters.brand_id and str(filters.brand_id),
        filters.collection_id and str(filters.collection_id), filters.attribute_types,
    ]), FILTERS_TTL_S)
    return filters


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


async def _resolve_list_filters(db: AsyncSession | AsyncConnection, query: ProductQuery) -> _Filters:
    columns: list[Any] = [_channels.c.id]
    if query.category is not None:
        if not _usable(query.category):
            raise CategoryNotFound()
        columns.append(
            select(Category.path)
            .where(_matches(Category.id, Category.slug, query.category), Category.is_active.is_(True))
            .order_by(*_prefers_id(Category.id, query.category))
            .limit(1)
            .scalar_subquery()
        )
    if query.brand is not None:
        if not _usable(query.brand):
            raise BrandNotFound()
        columns.append(
            select(Brand.id)
            .where(_matches(Brand.id, Brand.slug, query.brand))
            .order_by(*_prefers_id(Brand.id, query.brand))
            .limit(1)
            .scalar_subquery()
        )
    if query.collection is not None:
        if not _usable(query.collection):
            raise CollectionNotFound("No such collection.")
        columns.append(
            select(Collection.id)
            .where(_matches(Collection.id, Collection.slug, query.collection), Collection.is_published.is_(True))
            .order_by(*_prefers_id(Collection.id, query.collection))
            .limit(1)
            .scalar_subquery()
        )
    if query.attributes:
        columns.append(
            select(func.jsonb_object_agg(Attribute.code, Attribute.type))
            .where(Attribute.code.in_([code for code, _ in query.attributes]), Attribute.filterable.is_(True))
            .scalar_subquery()
        )
    row = (await db.execute(select(*columns).where(_channel_where(query.channel)))).first()
    if row is None:
        raise UnknownChannel(query.channel)
    values = list(row)
    channel_id: uuid.UUID = values.pop(0)
    category_path: str | None = None
    brand_id: uuid.UUID | None = None
    if query.category is not None:
        category_path = values.pop(0)
        if category_path is None:
            raise CategoryNotFound()
    if query.brand is not None:
        brand_id = values.pop(0)
        if brand_id is None:
            raise BrandNotFound()
    collection_id: uuid.UUID | None = None
    if query.collection is not None:
        collection_id = values.pop(0)
        if collection_id is None:
            raise CollectionNotFound("No such collection.")
    attribute_types: dict[str, str] = {}
    if query.attributes:
        attribute_types = dict(values.pop(0) or {})
        for code, _ in query.attributes:
            if code not in attribute_types:
                raise _unknown_attribute(code)
    return _Filters(channel_id, category_path, brand_id, collection_id, attribute_types)


# ---------------------------------------------------------------------------------------------
# categories


@dataclass
class _Node:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    slug: str
    name: str
    children: list[_Node]


async def _channel_counts(session: AsyncSession, channel: str, under: str | None = None) -> dict[str, int]:
    """Listed products per category path in the channel (one statement; raises UnknownChannel)."""
    conditions: list[ColumnElement[bool]] = [L.channel_id == _channels.c.id, L.category_path.is_not(None)]
    if under is not None:
        conditions.append(_in_subtree(L.category_path, under))
    counts = (
        select(L.category_path.label("path"), func.count().label("n"))
        .where(*conditions)
        .group_by(L.category_path)
        .lateral("counts")
    )
    stmt = (
        select(_channels.c.id, counts.c.path, counts.c.n)
        .select_from(_channels)
        .outerjoin(counts, true())
        .where(_channel_where(channel))
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        raise UnknownChannel(channel)
    return {row.path: int(row.n) for row in rows if row.path is not None}


def _totals(counts: dict[str, int]) -> dict[str, int]:
    """Per category id, the products in it or anywhere below it (a path names every ancestor)."""
    totals: dict[str, int] = defaultdict(int)
    for path, n in counts.items():
        for category_id in path.split("/"):
            totals[category_id] += n
    return totals


async def category_tree(session: AsyncSession, channel: str) -> CategoryTree:
    """Every active category (an inactive one hides its subtree), nested, siblings by position
    then name, with product counts of the channel including descendants. Two statements."""
    totals = _totals(await _channel_counts(session, channel))
    rows = (
        await session.execute(
            select(Category.id, Category.parent_id, Category.slug, Category.name)
            .where(Category.is_active.is_(True))
            .order_by(Category.depth, Category.position, Category.name, Category.id)
        )
    ).all()
    nodes: dict[uuid.UUID, _Node] = {}
    roots: list[_Node] = []
    for row in rows:  # parents come first (ordered by depth)
        node = _Node(row.id, row.parent_id, row.slug, row.name, [])
        if row.parent_id is None:
            roots.append(node)
        elif row.parent_id in nodes:
            nodes[row.parent_id].children.append(node)
        else:
            continue  # below an inactive category: not reachable
        nodes[row.id] = node

    def out(node: _Node) -> CategoryNode:
        return CategoryNode(
            id=str(node.id), slug=node.slug, name=node.name, product_count=totals.get(str(node.id), 0),
            children=[out(child) for child in node.children],
        )

    return CategoryTree(items=[out(root) for root in roots])


async def category_detail(session: AsyncSession, ref: str, channel: str) -> CategoryDetail:
    """An active category with its breadcrumb (root first) and its active children, with product
    counts of the channel including descendants. Three statements."""
    if not _usable(ref):
        raise CategoryNotFound()
    category = (
        select(Category.id, Category.slug, Category.name, Category.description, Category.path, Category.depth)
        .where(_matches(Category.id, Category.slug, ref), Category.is_active.is_(True))
        .order_by(*_prefers_id(Category.id, ref))
        .limit(1)
        .lateral("category")
    )
    found = (
        await session.execute(
            select(category).select_from(_channels).outerjoin(category, true()).where(_channel_where(channel))
        )
    ).first()
    if found is None:
        raise UnknownChannel(channel)
    if found.id is None:
        raise CategoryNotFound()
    ancestor_ids = [parse_id(part) for part in found.path.split("/")[:-1]]
    wanted = [a for a in ancestor_ids if a is not None]
    rows = (
        await session.execute(
            select(Category.id, Category.parent_id, Category.slug, Category.name, Category.is_active)
            .where(or_(Category.id.in_(wanted), and_(Category.parent_id == found.id, Category.is_active.is_(True))))
            .order_by(Category.depth, Category.position, Category.name, Category.id)
        )
    ).all()
    by_id = {row.id: row for row in rows}
    ancestors = [by_id.get(a) for a in wanted]
    if len(wanted) != len(ancestor_ids) or any(a is None or not a.is_active for a in ancestors):
        raise CategoryNotFound()  # below an inactive category: hidden with it
    counts = await _channel_counts(session, channel, under=found.path)
    totals = _totals(counts)
    return CategoryDetail(
        id=str(found.id), slug=found.slug, name=found.name, description=found.description,
        product_count=totals.get(str(found.id), 0),
        ancestors=[Ref(id=str(a.id), slug=a.slug, name=a.name) for a in ancestors if a is not None],
        children=[
            CategoryCount(id=str(row.id), slug=row.slug, name=row.name, product_count=totals.get(str(row.id), 0))
            for row in rows
            if row.parent_id == found.id and row.id not in set(wanted)
        ],
    )
