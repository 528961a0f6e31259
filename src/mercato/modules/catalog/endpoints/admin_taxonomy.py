"""/admin/attributes, /admin/product-types, /admin/categories, /admin/brands: the catalogue's taxonomy.

Reads need `catalog:read`, writes `catalog:write`. Updates answer with an ETag; `If-Match` with a
stale one is 412 `precondition.stale`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import attributes_admin, taxonomy
from mercato.modules.catalog.endpoints.invalidation import CHANGES_FILTERS
from mercato.modules.catalog.models import Attribute, Brand, Category, ProductType
from mercato.modules.catalog.taxonomy_schemas import (
    AttributeCreateIn,
    AttributeList,
    AttributeOptionOut,
    AttributeOut,
    AttributeUpdateIn,
    BrandCreateIn,
    BrandList,
    BrandOut,
    BrandUpdateIn,
    CategoryAdminNode,
    CategoryAdminTree,
    CategoryCreateIn,
    CategoryList,
    CategoryMoveIn,
    CategoryOut,
    CategoryUpdateIn,
    ProductTypeAttributeOut,
    ProductTypeCreateIn,
    ProductTypeList,
    ProductTypeOut,
    ProductTypeUpdateIn,
)

TAGS: list[str | Any] = ["admin: catalogue"]
attributes = APIRouter(prefix="/admin/attributes", tags=TAGS, route_class=MercatoRoute)
product_types = APIRouter(prefix="/admin/product-types", tags=TAGS, route_class=MercatoRoute)
categories = APIRouter(prefix="/admin/categories", tags=TAGS, route_class=MercatoRoute)
brands = APIRouter(prefix="/admin/brands", tags=TAGS, route_class=MercatoRoute)

READ = require_permission("catalog:read")
WRITE = require_permission("catalog:write")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")

_READ_ERRORS = problem_responses(401, 403, 404)
_LIST_ERRORS = problem_responses(401, 403, 422)
_CREATE_ERRORS = problem_responses(400, 401, 403, 409, 415, 422)
_UPDATE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 415, 422)
_DELETE_ERRORS = problem_responses(401, 403, 404, 409, 412)


def _cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def _etag(row: Attribute | ProductType | Category | Brand) -> str:
    return etag_for(row.id, row.updated_at.isoformat())


def _tagged(response: Response, row: Attribute | ProductType | Category | Brand) -> None:
    response.headers["ETag"] = _etag(row)


# ---------------------------------------------------------------------------------------------
# attributes


def attribute_out(a: Attribute) -> AttributeOut:
    return AttributeOut(
        id=str(a.id), code=a.code, name=a.name, type=a.type, unit=a.unit,
        options=[AttributeOptionOut(value=str(o.get("value", "")), label=str(o.get("label", o.get("value", ""))),
                                    hex=o.get("hex")) for o in a.options],
        filterable=a.filterable,
        created_at=a.created_at, updated_at=a.updated_at,
    )


@attributes.get("", response_model=AttributeList, responses=_LIST_ERRORS)
async def list_attributes(
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> AttributeList:
    result = await attributes_admin.list_attributes(session, limit=page.limit, cursor=page.cursor)
    return AttributeList(items=[attribute_out(a) for a in result.items], next_cursor=result.next_cursor)


@attributes.post("", status_code=201, response_model=AttributeOut, responses=_CREATE_ERRORS,
                 dependencies=CHANGES_FILTERS)
async def create_attribute(
    body: AttributeCreateIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> AttributeOut:
    """A code already used → 409 `catalog.taken`; options only for select/multiselect/swatch, a unit
    only for numbers → 422."""
    attribute = await attributes_admin.create_attribute(
        session, code=body.code, name=body.name, type_=body.type, unit=body.unit,
        options=[o.model_dump(exclude_none=True) for o in body.options], filterable=body.filterable,
    )
    _tagged(response, attribute)
    response.headers["Location"] = f"/admin/attributes/{attribute.id}"
    return attribute_out(attribute)


@attributes.get("/{attribute_id}", response_model=AttributeOut, responses=_READ_ERRORS)
async def get_attribute(
    attribute_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> AttributeOut:
    attribute = await attributes_admin.get_attribute(session, attribute_id)
    _tagged(response, attribute)
    return attribute_out(attribute)


@attributes.patch("/{attribute_id}", response_model=AttributeOut, responses=_UPDATE_ERRORS,
                  dependencies=CHANGES_FILTERS)
async def update_attribute(
    attribute_id: str, body: AttributeUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> AttributeOut:
    """The type cannot change once a product type uses the attribute (409 `catalog.attribute_in_use`)."""
    attribute = await attributes_admin.get_attribute(session, attribute_id, lock=True)
    check_if_match(if_match, _etag(attribute))
    attribute = await attributes_admin.update_attribute(session, attribute, attributes_admin.AttributeChanges(
        name=body.name, type=body.type, unit=body.unit, filterable=body.filterable,
        options=[o.model_dump(exclude_none=True) for o in body.options] if body.options is not None else None,
    ))
    _tagged(response, attribute)
    return attribute_out(attribute)


@attributes.delete("/{attribute_id}", status_code=204, response_class=Response, responses=_DELETE_ERRORS,
                   dependencies=CHANGES_FILTERS)
async def delete_attribute(
    attribute_id: str, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Refused while a product type uses it (409 `catalog.attribute_in_use`)."""
    attribute = await attributes_admin.get_attribute(session, attribute_id, lock=True)
    check_if_match(if_match, _etag(attribute))
    await attributes_admin.delete_attribute(session, attribute)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# product types


def product_type_out(t: ProductType) -> ProductTypeOut:
    return ProductTypeOut(
        id=str(t.id), name=t.name, slug=t.slug,
        attributes=[ProductTypeAttributeOut(code=str(a.get("code", "")), required=bool(a.get("required", False)))
                    for a in t.attributes],
        variant_options=list(t.variant_options), created_at=t.created_at, updated_at=t.updated_at,
    )


@product_types.get("", response_model=ProductTypeList, responses=_LIST_ERRORS)
async def list_product_types(
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> ProductTypeList:
    result = await taxonomy.list_product_types(session, limit=page.limit, cursor=page.cursor)
    return ProductTypeList(items=[product_type_out(t) for t in result.items], next_cursor=result.next_cursor)


@product_types.post("", status_code=201, response_model=ProductTypeOut, responses=_CREATE_ERRORS)
async def create_product_type(
    body: ProductTypeCreateIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> ProductTypeOut:
    """Attributes must exist (422, `attributes[i].code`); variant options must be select/swatch
    attributes (422, `variant_options[i]`); slug or name taken → 409 `catalog.taken`."""
    product_type = await taxonomy.create_product_type(
        session, name=body.name, slug=body.slug, attributes=[a.model_dump() for a in body.attributes],
        variant_options=body.variant_options,
    )
    _tagged(response, product_type)
    response.headers["Location"] = f"/admin/product-types/{product_type.id}"
    return product_type_out(product_type)


@product_types.get("/{type_id}", response_model=ProductTypeOut, responses=_READ_ERRORS)
async def get_product_type(
    type_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> ProductTypeOut:
    product_type = await taxonomy.get_product_type(session, type_id)
    _tagged(response, product_type)
    return product_type_out(product_type)


@product_types.patch("/{type_id}", response_model=ProductTypeOut, responses=_UPDATE_ERRORS)
async def update_product_type(
    type_id: str, body: ProductTypeUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> ProductTypeOut:
    product_type = await taxonomy.get_product_type(session, type_id, lock=True)
    check_if_match(if_match, _etag(product_type))
    product_type = await taxonomy.update_product_type(
        session, product_type, name=body.name, slug=body.slug,
        attributes=[a.model_dump() for a in body.attributes] if body.attributes is not None else None,
        variant_options=body.variant_options,
    )
    _tagged(response, product_type)
    return product_type_out(product_type)


@product_types.delete("/{type_id}", status_code=204, response_class=Response, responses=_DELETE_ERRORS)
async def delete_product_type(
    type_id: str, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Refused while products use it (409 `catalog.product_type_in_use`)."""
    product_type = await taxonomy.get_product_type(session, type_id, lock=True)
    check_if_match(if_match, _etag(product_type))
    await taxonomy.delete_product_type(session, product_type)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# categories


def category_out(c: Category) -> CategoryOut:
    return CategoryOut(
        id=str(c.id), parent_id=str(c.parent_id) if c.parent_id else None, name=c.name, slug=c.slug, path=c.path,
        depth=c.depth, position=c.position, description=c.description, is_active=c.is_active,
        created_at=c.created_at, updated_at=c.updated_at,
    )


@categories.get("", response_model=CategoryList, responses=problem_responses(401, 403, 404, 422))
async def list_categories(
    page: PageParams = Depends(page_params),
    parent_id: str | None = Query(default=None, max_length=64, description="Only the children of this category"),
    roots: bool = Query(default=False, description="Only root categories"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> CategoryList:
    """Every category (inactive ones too), in tree (path) order."""
    result = await taxonomy.list_categories(session, limit=page.limit, cursor=page.cursor, parent_id=parent_id,
                                            roots=roots)
    return CategoryList(items=[category_out(c) for c in result.items], next_cursor=result.next_cursor)


@categories.get("/tree", response_model=CategoryAdminTree, responses=problem_responses(401, 403))
async def category_tree(
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session)
) -> CategoryAdminTree:
    """The whole tree, inactive categories included, siblings by position then name."""
    nodes: dict[Any, CategoryAdminNode] = {}
    roots: list[CategoryAdminNode] = []
    for c in await taxonomy.all_categories(session):
        node = CategoryAdminNode(id=str(c.id), name=c.name, slug=c.slug, position=c.position,
                                 is_active=c.is_active, children=[])
        nodes[c.id] = node
        parent = nodes.get(c.parent_id) if c.parent_id else None
        (parent.children if parent is not None else roots).append(node)
    return CategoryAdminTree(items=roots)


@categories.post("", status_code=201, response_model=CategoryOut, responses=_CREATE_ERRORS)
async def create_category(
    body: CategoryCreateIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> CategoryOut:
    """Unknown parent → 422 (`parent_id`); slug taken → 409 `catalog.taken`."""
    category = await taxonomy.create_category(
        session, name=body.name, slug=body.slug, parent_id=body.parent_id, description=body.description,
        position=body.position, is_active=body.is_active,
    )
    _tagged(response, category)
    response.headers["Location"] = f"/admin/categories/{category.id}"
    return category_out(category)


@categories.get("/{category_id}", response_model=CategoryOut, responses=_READ_ERRORS)
async def get_category(
    category_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> CategoryOut:
    category = await taxonomy.get_category(session, category_id)
    _tagged(response, category)
    return category_out(category)


@categories.patch("/{category_id}", response_model=CategoryOut, responses=_UPDATE_ERRORS)
async def update_category(
    category_id: str, body: CategoryUpdateIn, request: Request, response: Response,
    if_match: str | None = IfMatch, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CategoryOut:
    """Name, slug, description, position, active flag. Use `/move` to change the parent."""
    category = await taxonomy.get_category(session, category_id, lock=True)
    check_if_match(if_match, _etag(category))
    category = await taxonomy.update_category(session, _cache(request), category, taxonomy.CategoryChanges(
        name=body.name, slug=body.slug, description=body.description, position=body.position,
        is_active=body.is_active,
    ))
    _tagged(response, category)
    return category_out(category)


@categories.post("/{category_id}/move", response_model=CategoryOut, responses=_UPDATE_ERRORS)
async def move_category(
    category_id: str, body: CategoryMoveIn, request: Request, response: Response,
    if_match: str | None = IfMatch, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CategoryOut:
    """Move the category and its whole subtree below `parent_id` (null: make it a root); the
    storefront's category filters follow at once. Below itself or a descendant → 409
    `catalog.category_cycle`; unknown parent → 422."""
    await taxonomy.lock_tree(session)
    category = await taxonomy.get_category(session, category_id, lock=True)
    check_if_match(if_match, _etag(category))
    category = await taxonomy.move_category(session, _cache(request), category, body.parent_id, body.position)
    _tagged(response, category)
    return category_out(category)


@categories.delete("/{category_id}", status_code=204, response_class=Response, responses=_DELETE_ERRORS)
async def delete_category(
    category_id: str, request: Request, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Only an empty category: with subcategories or products → 409 `catalog.category_not_empty`."""
    await taxonomy.lock_tree(session)
    category = await taxonomy.get_category(session, category_id, lock=True)
    check_if_match(if_match, _etag(category))
    await taxonomy.delete_category(session, _cache(request), category)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# brands


def brand_out(b: Brand) -> BrandOut:
    return BrandOut(id=str(b.id), name=b.name, slug=b.slug, created_at=b.created_at, updated_at=b.updated_at)


@brands.get("", response_model=BrandList, responses=_LIST_ERRORS)
async def list_brands(
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> BrandList:
    result = await taxonomy.list_brands(session, limit=page.limit, cursor=page.cursor)
    return BrandList(items=[brand_out(b) for b in result.items], next_cursor=result.next_cursor)


@brands.post("", status_code=201, response_model=BrandOut, responses=_CREATE_ERRORS)
async def create_brand(
    body: BrandCreateIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> BrandOut:
    """Slug taken → 409 `catalog.taken`."""
    brand = await taxonomy.create_brand(session, name=body.name, slug=body.slug)
    _tagged(response, brand)
    response.headers["Location"] = f"/admin/brands/{brand.id}"
    return brand_out(brand)


@brands.get("/{brand_id}", response_model=BrandOut, responses=_READ_ERRORS)
async def get_brand(
    brand_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> BrandOut:
    brand = await taxonomy.get_brand(session, brand_id)
    _tagged(response, brand)
    return brand_out(brand)


@brands.patch("/{brand_id}", response_model=BrandOut, responses=_UPDATE_ERRORS)
async def update_brand(
    brand_id: str, body: BrandUpdateIn, request: Request, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> BrandOut:
    brand = await taxonomy.get_brand(session, brand_id, lock=True)
    check_if_match(if_match, _etag(brand))
    brand = await taxonomy.update_brand(session, _cache(request), brand, name=body.name, slug=body.slug)
    _tagged(response, brand)
    return brand_out(brand)


@brands.delete("/{brand_id}", status_code=204, response_class=Response, responses=_DELETE_ERRORS)
async def delete_brand(
    brand_id: str, request: Request, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Refused while products carry the brand (409 `catalog.brand_in_use`)."""
    brand = await taxonomy.get_brand(session, brand_id, lock=True)
    check_if_match(if_match, _etag(brand))
    await taxonomy.delete_brand(session, _cache(request), brand)
    return Response(status_code=204)


routers = [attributes, product_types, categories, brands]
