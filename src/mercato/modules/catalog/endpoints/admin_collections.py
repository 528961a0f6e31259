"""/admin/collections: manual and rule-based collections (`catalog:read` / `catalog:write`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import collections
from mercato.modules.catalog.collections_schemas import (
    AddedOut,
    CollectionCreateIn,
    CollectionList,
    CollectionOut,
    CollectionUpdateIn,
    MemberList,
    MemberOut,
    ProductIdsIn,
    ProductOrderIn,
)
from mercato.modules.catalog.endpoints.invalidation import CHANGES_FILTERS
from mercato.modules.catalog.models import Collection

router = APIRouter(prefix="/admin/collections", tags=["admin: catalogue"], route_class=MercatoRoute)
READ = require_permission("catalog:read")
WRITE = require_permission("catalog:write")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


def collection_out(c: Collection) -> CollectionOut:
    return CollectionOut(
        id=str(c.id), name=c.name, slug=c.slug, kind=c.kind, description=c.description, rules=dict(c.rules),
        is_published=c.is_published, seo_title=c.seo_title, seo_description=c.seo_description, version=c.version,
    )


def _etag(c: Collection) -> str:
    return etag_for(c.id, c.version)


def _fields(body: CollectionCreateIn | CollectionUpdateIn) -> collections.CollectionFields:
    return collections.CollectionFields(
        name=body.name, slug=body.slug, description=body.description, rules=body.rules,
        is_published=body.is_published, seo_title=body.seo_title, seo_description=body.seo_description,
    )


@router.get("", response_model=CollectionList, responses=problem_responses(401, 403, 422))
async def list_collections(
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> CollectionList:
    result = await collections.list_collections(session, limit=page.limit, cursor=page.cursor)
    return CollectionList(items=[collection_out(c) for c in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=CollectionOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422), dependencies=CHANGES_FILTERS)
async def create_collection(
    body: CollectionCreateIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> CollectionOut:
    """A rule collection's membership is computed at once. Bad rules → 422 with a pointer per problem
    (`rules.conditions[i].op`...); rules on a manual collection → 422; slug taken → 409 `catalog.taken`."""
    collection = await collections.create_collection(session, kind=body.kind, name=body.name, slug=body.slug,
                                                     fields=_fields(body))
    response.headers["ETag"] = _etag(collection)
    response.headers["Location"] = f"/admin/collections/{collection.id}"
    return collection_out(collection)


@router.get("/{collection_id}", response_model=CollectionOut, responses=problem_responses(401, 403, 404))
async def get_collection(
    collection_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> CollectionOut:
    collection = await collections.get_collection(session, collection_id)
    response.headers["ETag"] = _etag(collection)
    return collection_out(collection)


@router.patch("/{collection_id}", response_model=CollectionOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422), dependencies=CHANGES_FILTERS)
async def update_collection(
    collection_id: str, body: CollectionUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> CollectionOut:
    collection = await collections.get_collection(session, collection_id, lock=True)
    check_if_match(if_match, _etag(collection))
    collection = await collections.update_collection(session, collection, _fields(body))
    response.headers["ETag"] = _etag(collection)
    return collection_out(collection)


@router.delete("/{collection_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 412), dependencies=CHANGES_FILTERS)
async def delete_collection(
    collection_id: str, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    collection = await collections.get_collection(session, collection_id, lock=True)
    check_if_match(if_match, _etag(collection))
    await collections.delete_collection(session, collection)
    return Response(status_code=204)


@router.get("/{collection_id}/products", response_model=MemberList, responses=problem_responses(401, 403, 404, 422))
async def list_members(
    collection_id: str, page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> MemberList:
    """The collection's products (any status), in collection order."""
    collection = await collections.get_collection(session, collection_id)
    result = await collections.members(session, collection, limit=page.limit, cursor=page.cursor)
    return MemberList(
        items=[MemberOut(product_id=str(r.product_id), slug=r.slug, name=r.name, status=r.status,
                         position=r.position) for r in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("/{collection_id}/products", response_model=AddedOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def add_products(
    collection_id: str, body: ProductIdsIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> AddedOut:
    """Append products to a manual collection (rule-based → 409 `catalog.collection_rule_based`);
    unknown products → 422 (`product_ids[i]`)."""
    collection = await collections.get_collection(session, collection_id, lock=True)
    check_if_match(if_match, _etag(collection))
    added = await collections.add_products(session, collection, body.product_ids)
    response.headers["ETag"] = _etag(collection)
    return AddedOut(added=added)


@router.delete("/{collection_id}/products/{product_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 412))
async def remove_product(
    collection_id: str, product_id: str, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    collection = await collections.get_collection(session, collection_id, lock=True)
    check_if_match(if_match, _etag(collection))
    await collections.remove_product(session, collection, product_id)
    return Response(status_code=204, headers={"ETag": _etag(collection)})


@router.put("/{collection_id}/products/order", status_code=204, response_class=Response,
            responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def reorder(
    collection_id: str, body: ProductOrderIn, if_match: str | None = IfMatch, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Set the order of a manual collection: list every member exactly once (else 422)."""
    collection = await collections.get_collection(session, collection_id, lock=True)
    check_if_match(if_match, _etag(collection))
    await collections.reorder(session, collection, body.product_ids)
    return Response(status_code=204, headers={"ETag": _etag(collection)})


routers = [router]
