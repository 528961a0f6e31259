"""/admin/products and /admin/variants: products, variants, channel prices, the publishing workflow
and the revision trail. Every response about a product carries its ETag; writes honour If-Match
(variant and price writes use the product's ETag, as they change the product's version)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import product_revisions_admin, products_admin, rules, variants_admin
from mercato.modules.catalog.models import ProductRevision
from mercato.modules.catalog.products_schemas import (
    MediaSummary,
    PricesIn,
    ProductAdminList,
    ProductAdminOut,
    ProductCreateIn,
    ProductPatchIn,
    ProductSummaryOut,
    RevertIn,
    RevisionDetail,
    RevisionDiff,
    RevisionList,
    RevisionOut,
    VariantAdminOut,
    VariantIn,
    VariantPatchIn,
    WorkflowIn,
)

router = APIRouter(prefix="/admin/products", tags=["admin: catalogue"], route_class=MercatoRoute)
variants = APIRouter(prefix="/admin/variants", tags=["admin: catalogue"], route_class=MercatoRoute)

READ, WRITE = "catalog:read", "catalog:write"
Status = Literal["draft", "in_review", "published", "archived"]
IfMatch = Annotated[str | None, Header(description="The product's ETag you edited (412 if stale)")]


def _cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def product_out(found: products_admin.ProductView) -> ProductAdminOut:
    p = found.product
    return ProductAdminOut(
        id=str(p.id), slug=p.slug, name=p.name, description=p.description, status=p.status,
        brand_id=_str(p.brand_id), category_id=_str(p.category_id), product_type_id=_str(p.product_type_id),
        tags=list(p.tags), attributes=dict(p.attributes), seo_title=p.seo_title, seo_description=p.seo_description,
        publish_at=p.publish_at, unpublish_at=p.unpublish_at, published_at=p.published_at,
        review_comment=p.review_comment, version=p.version, created_at=p.created_at, updated_at=p.updated_at,
        variants=[VariantAdminOut.model_validate(v) for v in found.variants],
        media=MediaSummary(count=found.media_count, thumbnail=found.thumbnail),
    )


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


async def _respond(session: AsyncSession, product: Any, response: Response) -> ProductAdminOut:
    found = await products_admin.view(session, product)
    response.headers["ETag"] = found.etag
    return product_out(found)


def _variant_out(found: products_admin.ProductView, variant_id: object, response: Response) -> VariantAdminOut:
    response.headers["ETag"] = found.etag
    for item in found.variants:
        if item["id"] == str(variant_id):
            return VariantAdminOut.model_validate(item)
    raise AssertionError("the variant belongs to the product")  # pragma: no cover


def _revision_out(revision: ProductRevision) -> RevisionOut:
    return RevisionOut(version=revision.version, action=revision.action, actor=revision.actor,
                       comment=revision.comment, created_at=revision.created_at, changes=revision.changes)


# --- products ----------------------------------------------------------------------------------------

@router.get("", response_model=ProductAdminList, responses=problem_responses(401, 403, 422))
async def list_products(
    page: PageParams = Depends(page_params),
    status: Annotated[Status | None, Query(description="Only products in this status")] = None,
    category: Annotated[str | None, Query(max_length=64, description="Category id (with descendants)")] = None,
    brand: Annotated[str | None, Query(max_length=64, description="Brand id")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Prefix of the name or a SKU")] = None,
    _: Principal = Depends(require_permission(READ)),
    session: AsyncSession = Depends(get_session),
) -> ProductAdminList:
    """Newest first, keyset-paginated."""
    result = await products_admin.list_products(session, limit=page.limit, cursor=page.cursor, status=status,
                                                category=category, brand=brand, q=q)
    items = [
        ProductSummaryOut(id=str(r.id), slug=r.slug, name=r.name, status=r.status, brand_id=_str(r.brand_id),
                          category_id=_str(r.category_id), product_type_id=_str(r.product_type_id),
                          version=r.version, variant_count=r.variant_count, updated_at=r.updated_at)
        for r in result.items
    ]
    return ProductAdminList(items=items, next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=ProductAdminOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_product(
    body: ProductCreateIn, request: Request, response: Response,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> ProductAdminOut:
    """A new product starts as a draft, optionally with variants and their prices. 409
    `catalog.slug_taken` / `catalog.sku_taken`; 422 for attribute values, references, options, prices."""
    product = await products_admin.create(session, _cache(request), body, actor=principal.scope)
    response.headers["Location"] = f"/admin/products/{product.id}"
    return await _respond(session, product, response)


@router.get("/{product_id}", response_model=ProductAdminOut, responses=problem_responses(401, 403, 404))
async def get_product(
    product_id: str, response: Response,
    _: Principal = Depends(require_permission(READ)),
    session: AsyncSession = Depends(get_session),
) -> ProductAdminOut:
    return await _respond(session, await products_admin.get_product(session, product_id), response)


@router.patch("/{product_id}", response_model=ProductAdminOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_product(
    product_id: str, body: ProductPatchIn, request: Request, response: Response, if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> ProductAdminOut:
    """Change only the fields sent (`attributes` is replaced as a whole). Stale If-Match: 412."""
    product = await products_admin.locked_for_write(session, product_id, if_match)
    product = await products_admin.update(session, _cache(request), product, body, actor=principal.scope)
    return await _respond(session, product, response)


@router.delete("/{product_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 412))
async def delete_product(
    product_id: str, request: Request, if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Only drafts and archived products (409 `catalog.product_not_deletable`), and only without stock
    history (409 `catalog.has_stock_history`: archive it instead)."""
    product = await products_admin.locked_for_write(session, product_id, if_match)
    await products_admin.delete_product(session, _cache(request), product, actor=principal.scope)
    return Response(status_code=204)


# --- workflow ----------------------------------------------------------------------------------------

_WORKFLOW_DOCS = {
    "submit": "Send a draft for review.",
    "approve": "Approve a product in review: it is published.",
    "reject": "Send a product in review back to draft; a comment saying why is required (422).",
    "publish": "Publish a draft or a product in review directly.",
    "unpublish": "Take a published product back to draft.",
    "archive": "Archive a product: it leaves the storefront.",
    "restore": "Bring an archived product back as a draft.",
}


def _workflow_endpoint(action: str) -> Callable[..., Awaitable[ProductAdminOut]]:
    async def endpoint(
        product_id: str, request: Request, response: Response, body: WorkflowIn | None = None,
        if_match: IfMatch = None,
        principal: Principal = Depends(require_permission(rules.permission_for(action))),
        session: AsyncSession = Depends(get_session),
    ) -> ProductAdminOut:
        product = await products_admin.locked_for_write(session, product_id, if_match)
        product = await products_admin.transition(
            session, _cache(request), product, action, actor=principal.scope, permissions=principal.permissions,
            comment=body.comment if body else None)
        return await _respond(session, product, response)

    endpoint.__name__ = f"{action}_product"
    endpoint.__doc__ = (f"{_WORKFLOW_DOCS[action]} Needs {rules.permission_for(action)!r}. 409 "
                        "`catalog.invalid_transition` from a status that does not allow it; publishing needs a "
                        "priced variant (409 `catalog.not_publishable`).")
    return endpoint


for _action in rules.TRANSITIONS:
    router.add_api_route(
        f"/{{product_id}}/{_action}", _workflow_endpoint(_action), methods=["POST"], response_model=ProductAdminOut,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422), name=f"{_action}_product",
    )


# --- revisions ---------------------------------------------------------------------------------------

@router.get("/{product_id}/revisions", response_model=RevisionList, responses=problem_responses(401, 403, 404, 422))
async def list_revisions(
    product_id: str, page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission(READ)),
    session: AsyncSession = Depends(get_session),
) -> RevisionList:
    """Newest first."""
    product = await products_admin.get_product(session, product_id)
    result = await product_revisions_admin.list_revisions(session, product.id, limit=page.limit, cursor=page.cursor)
    return RevisionList(items=[_revision_out(r) for r in result.items], next_cursor=result.next_cursor)


@router.get("/{product_id}/revisions/{version}", response_model=RevisionDetail,
            responses=problem_responses(401, 403, 404, 422))
async def get_revision(
    product_id: str, version: int,
    _: Principal = Depends(require_permission(READ)),
    session: AsyncSession = Depends(get_session),
) -> RevisionDetail:
    product = await products_admin.get_product(session, product_id)
    revision = await product_revisions_admin.get_revision(session, product.id, version)
    return RevisionDetail(**_revision_out(revision).model_dump(), snapshot=revision.snapshot)


@router.get("/{product_id}/revisions/{version}/diff", response_model=RevisionDiff,
            responses=problem_responses(401, 403, 404, 422))
async def diff_revisions(
    product_id: str, version: int,
    against: Annotated[int | None, Query(ge=1, description="The other version (default: the one before)")] = None,
    _: Principal = Depends(require_permission(READ)),
    session: AsyncSession = Depends(get_session),
) -> RevisionDiff:
    product = await products_admin.get_product(session, product_id)
    changes = await product_revisions_admin.diff(session, product.id, version, against)
    return RevisionDiff(version=version, against=against if against is not None else version - 1, changes=changes)


@router.post("/{product_id}/revisions/{version}/revert", response_model=ProductAdminOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def revert_product(
    product_id: str, version: int, request: Request, response: Response, body: RevertIn | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> ProductAdminOut:
    """Restore fields, variants and prices of a revision (not the status) as a new revision."""
    product = await products_admin.locked_for_write(session, product_id, if_match)
    product = await product_revisions_admin.revert(session, _cache(request), product, version, actor=principal.scope,
                                                   comment=body.comment if body else None)
    return await _respond(session, product, response)


# --- variants and prices -----------------------------------------------------------------------------

@router.post("/{product_id}/variants", status_code=201, response_model=VariantAdminOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def create_variant(
    product_id: str, body: VariantIn, request: Request, response: Response, if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> VariantAdminOut:
    """Add a variant (and its prices). The ETag returned is the product's new one."""
    product = await products_admin.locked_for_write(session, product_id, if_match)
    variant = await variants_admin.create_variant(session, _cache(request), product, body, actor=principal.scope)
    response.headers["Location"] = f"/admin/variants/{variant.id}"
    return _variant_out(await products_admin.view(session, product), variant.id, response)


@variants.get("/{variant_id}", response_model=VariantAdminOut, responses=problem_responses(401, 403, 404))
async def get_variant(
    variant_id: str, response: Response,
    _: Principal = Depends(require_permission(READ)),
    session: AsyncSession = Depends(get_session),
) -> VariantAdminOut:
    """The ETag is the product's."""
    variant = await variants_admin.get_variant(session, variant_id)
    product = await products_admin.get_product(session, variant.product_id)
    return _variant_out(await products_admin.view(session, product), variant.id, response)


@variants.patch("/{variant_id}", response_model=VariantAdminOut,
                responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_variant(
    variant_id: str, body: VariantPatchIn, request: Request, response: Response, if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> VariantAdminOut:
    product, variant = await variants_admin.locked_variant(session, variant_id, if_match)
    variant = await variants_admin.update_variant(session, _cache(request), product, variant, body,
                                                  actor=principal.scope)
    return _variant_out(await products_admin.view(session, product), variant.id, response)


@variants.delete("/{variant_id}", status_code=204, response_class=Response,
                 responses=problem_responses(401, 403, 404, 409, 412))
async def delete_variant(
    variant_id: str, request: Request, if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """A variant with stock history → 409 `catalog.has_stock_history`."""
    product, variant = await variants_admin.locked_variant(session, variant_id, if_match)
    await variants_admin.delete_variant(session, _cache(request), product, variant, actor=principal.scope)
    return Response(status_code=204, headers={"ETag": products_admin.product_etag(product)})


@variants.put("/{variant_id}/prices", response_model=VariantAdminOut,
              responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def replace_prices(
    variant_id: str, body: PricesIn, request: Request, response: Response, if_match: IfMatch = None,
    principal: Principal = Depends(require_permission(WRITE)),
    session: AsyncSession = Depends(get_session),
) -> VariantAdminOut:
    """Replace every channel price of the variant. 422: unknown channel (`catalog.unknown_channel`), a
    currency other than the channel's (`catalog.currency_mismatch`), compare-at below the amount or an empty
    validity window (`catalog.invalid_price`), overlapping windows in one channel (`catalog.price_overlap`)."""
    product, variant = await variants_admin.locked_variant(session, variant_id, if_match)
    await variants_admin.replace_prices(session, _cache(request), product, variant, body.prices,
                                        actor=principal.scope)
    return _variant_out(await products_admin.view(session, product), variant.id, response)


routers = [router, variants]
