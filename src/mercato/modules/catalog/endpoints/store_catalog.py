"""/store/products and /store/categories: the public catalogue, per sales channel."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.etag import etag_for, matches_if_none_match
from mercato.kit.settings import Settings
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import product_page, storefront
from mercato.modules.catalog.schemas import CategoryDetail, CategoryTree, ProductDetail, ProductList

store_products = APIRouter(prefix="/store/products", tags=["store: catalogue"], route_class=MercatoRoute)
store_categories = APIRouter(prefix="/store/categories", tags=["store: catalogue"], route_class=MercatoRoute)

# Shared caches may keep a catalogue answer briefly; clients revalidate with If-None-Match.
CACHE_CONTROL = "public, max-age=60"
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified (If-None-Match matched)"}}

ChannelParam = Annotated[
    str | None,
    Query(min_length=1, max_length=50, description="Channel code (default: the store's default channel); "
                                                   "unknown → 422 `catalog.unknown_channel`"),
]


def _channel(request: Request, channel: str | None) -> str:
    settings: Settings = request.app.state.settings
    return channel or settings.default_channel


def _cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def _cacheable(request: Request, body: bytes) -> Response:
    """A JSON answer with a weak ETag of its bytes and Cache-Control; 304 when If-None-Match matches."""
    tag = etag_for(body.decode())
    headers = {"ETag": f"W/{tag}", "Cache-Control": CACHE_CONTROL}
    if matches_if_none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _attribute_filters(request: Request) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`attr.<code>` query parameters grouped by code, in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key.startswith("attr."):
            grouped.setdefault(key.removeprefix("attr."), []).append(value)
    return tuple((code, tuple(dict.fromkeys(values))) for code, values in grouped.items())


@store_products.get("", response_model=ProductList, responses={**_NOT_MODIFIED, **problem_responses(404, 422)})
async def list_products(
    request: Request,
    page: PageParams = Depends(page_params),
    sort: storefront.Sort = Query(default="newest", description="newest, price, -price, name, rating, popularity"),
    category: str | None = Query(default=None, min_length=1, max_length=200,
                                 description="Category id or slug; products in its subcategories are included"),
    brand: str | None = Query(default=None, min_length=1, max_length=200, description="Brand id or slug"),
    min_price: int | None = Query(default=None, ge=0, le=2**63 - 1, description="Lowest price, minor units"),
    max_price: int | None = Query(default=None, ge=0, le=2**63 - 1, description="Highest price, minor units"),
    in_stock: bool | None = Query(default=None, description="true: only in stock; false: only out of stock"),
    collection: str | None = Query(default=None, min_length=1, max_length=200,
                                   description="Id or slug of a published collection"),
    channel: ChannelParam = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Products listed in the channel, keyset-paginated in the chosen order. A cursor belongs to
    its sort (another sort → 422 `pagination.invalid_cursor`). An unknown category, brand or
    collection → 404 `catalog.category_not_found` / `catalog.brand_not_found` /
    `catalog.collection_not_found`.

    Attribute filters: `attr.<code>=<value>`, repeatable (`attr.colour=red&attr.colour=blue`: either
    colour; `attr.colour=red&attr.size=m`: both). Only filterable attributes; another code → 422
    `catalog.unknown_attribute`. Booleans take true/false, numbers a number (unit left out)."""
    body = await storefront.list_products_json(
        session, _cache(request),
        storefront.ProductQuery(
            channel=_channel(request, channel), limit=page.limit, cursor=page.cursor, sort=sort,
            category=category, brand=brand, min_price=min_price, max_price=max_price, in_stock=in_stock,
            collection=collection, attributes=_attribute_filters(request),
        ),
    )
    return _cacheable(request, body)


@store_products.get("/{id_or_slug}", response_model=ProductDetail,
                    responses={**_NOT_MODIFIED, **problem_responses(404, 422)})
async def get_product(
    id_or_slug: str, request: Request, channel: ChannelParam = None, session: AsyncSession = Depends(get_session)
) -> Response:
    """A product published and listed in the channel, with its variants priced there; anything
    else → 404 `catalog.product_not_found`."""
    body = await product_page.product_detail_json(lambda: nullcontext(session), _cache(request), id_or_slug,
                                                  _channel(request, channel))
    return _cacheable(request, body)


@store_categories.get("", response_model=CategoryTree, responses={**_NOT_MODIFIED, **problem_responses(422)})
async def category_tree(
    request: Request, channel: ChannelParam = None, session: AsyncSession = Depends(get_session)
) -> Response:
    """The active category tree with the channel's product counts (descendants included)."""
    tree = await storefront.category_tree(session, _channel(request, channel))
    return _cacheable(request, tree.model_dump_json().encode())


@store_categories.get("/{id_or_slug}", response_model=CategoryDetail,
                      responses={**_NOT_MODIFIED, **problem_responses(404, 422)})
async def get_category(
    id_or_slug: str, request: Request, channel: ChannelParam = None, session: AsyncSession = Depends(get_session)
) -> Response:
    """A category with its ancestors (root first) and its children, with the channel's product
    counts; unknown or inactive → 404 `catalog.category_not_found`."""
    detail = await storefront.category_detail(session, id_or_slug, _channel(request, channel))
    return _cacheable(request, detail.model_dump_json().encode())


routers = [store_products, store_categories]
