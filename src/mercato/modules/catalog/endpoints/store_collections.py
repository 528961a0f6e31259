"""/store/collections: the published collections; their products are `/store/products?collection=`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import collections
from mercato.modules.catalog.collections_schemas import StoreCollectionList, StoreCollectionOut
from mercato.modules.catalog.endpoints.store_catalog import _NOT_MODIFIED, _cacheable
from mercato.modules.catalog.models import Collection

router = APIRouter(prefix="/store/collections", tags=["store: catalogue"], route_class=MercatoRoute)


def _out(c: Collection) -> StoreCollectionOut:
    return StoreCollectionOut(id=str(c.id), slug=c.slug, name=c.name, description=c.description,
                              seo_title=c.seo_title, seo_description=c.seo_description)


@router.get("", response_model=StoreCollectionList, responses={**_NOT_MODIFIED, **problem_responses(422)})
async def list_collections(
    request: Request, page: PageParams = Depends(page_params), session: AsyncSession = Depends(get_session)
) -> Response:
    """Published collections by slug."""
    result = await collections.list_collections(session, limit=page.limit, cursor=page.cursor, published_only=True)
    body = StoreCollectionList(items=[_out(c) for c in result.items], next_cursor=result.next_cursor)
    return _cacheable(request, body.model_dump_json().encode())


@router.get("/{id_or_slug}", response_model=StoreCollectionOut,
            responses={**_NOT_MODIFIED, **problem_responses(404)})
async def get_collection(id_or_slug: str, request: Request, session: AsyncSession = Depends(get_session)) -> Response:
    """A published collection; unpublished or unknown → 404 `catalog.collection_not_found`."""
    collection = await collections.published_collection(session, id_or_slug)
    return _cacheable(request, _out(collection).model_dump_json().encode())


routers = [router]
