"""/store/me/wishlists: the signed-in customer's named wishlists."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import wishlists
from mercato.modules.identity.endpoints.store_me import current_customer
from mercato.modules.identity.models import Customer, Wishlist, WishlistItem
from mercato.modules.identity.schemas import (
    WishlistIn,
    WishlistItemIn,
    WishlistItemOut,
    WishlistList,
    WishlistOut,
    WishlistSummaryOut,
)

router = APIRouter(prefix="/store/me/wishlists", tags=["store: account"], route_class=MercatoRoute)


def item_out(item: WishlistItem) -> WishlistItemOut:
    return WishlistItemOut(variant_id=str(item.variant_id), note=item.note, added_at=item.added_at)


def wishlist_out(row: Wishlist, items: list[WishlistItem]) -> WishlistOut:
    return WishlistOut(id=str(row.id), name=row.name, item_count=len(items), created_at=row.created_at,
                       updated_at=row.updated_at, items=[item_out(i) for i in items])


@router.get("", response_model=WishlistList, responses=problem_responses(401, 422))
async def list_wishlists(
    page: PageParams = Depends(page_params), customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> WishlistList:
    """The customer's wishlists with their item counts, oldest first."""
    result = await wishlists.list_wishlists(session, customer.id, limit=page.limit, cursor=page.cursor)
    return WishlistList(
        items=[WishlistSummaryOut(id=str(w.id), name=w.name, item_count=w.item_count, created_at=w.created_at,
                                  updated_at=w.updated_at) for w in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201, response_model=WishlistOut, responses=problem_responses(400, 401, 404, 409, 415, 422))
async def create_wishlist(
    body: WishlistIn, response: Response, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> WishlistOut:
    """Create a named wishlist; names are unique per customer ignoring case (409 `wishlist.name_taken`)."""
    row = await wishlists.create_wishlist(session, customer.id, body.name)
    response.headers["location"] = f"/store/me/wishlists/{row.id}"
    return wishlist_out(row, [])


@router.get("/{wishlist_id}", response_model=WishlistOut, responses=problem_responses(401, 404))
async def get_wishlist(
    wishlist_id: str, customer: Customer = Depends(current_customer), session: AsyncSession = Depends(get_session),
) -> WishlistOut:
    """The wishlist with all its items (at most 500), in the order they were added."""
    row = await wishlists.get_wishlist(session, customer.id, wishlist_id)
    return wishlist_out(row, await wishlists.items_of(session, row.id))


@router.patch("/{wishlist_id}", response_model=WishlistOut, responses=problem_responses(400, 401, 404, 409, 415, 422))
async def rename_wishlist(
    wishlist_id: str, body: WishlistIn, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> WishlistOut:
    row = await wishlists.rename_wishlist(session, customer.id, wishlist_id, body.name)
    return wishlist_out(row, await wishlists.items_of(session, row.id))


@router.delete("/{wishlist_id}", status_code=204, response_class=Response, responses=problem_responses(401, 404))
async def delete_wishlist(
    wishlist_id: str, customer: Customer = Depends(current_customer), session: AsyncSession = Depends(get_session),
) -> Response:
    await wishlists.delete_wishlist(session, customer.id, wishlist_id)
    return Response(status_code=204)


@router.post("/{wishlist_id}/items", status_code=201, response_model=WishlistItemOut,
             responses={200: {"description": "Already on the wishlist (the note is updated when sent)",
                              "model": WishlistItemOut},
                        **problem_responses(400, 401, 404, 409, 415, 422)})
async def add_item(
    wishlist_id: str, body: WishlistItemIn, response: Response, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> WishlistItemOut:
    """Add a variant (201). Adding one that is already there is harmless: 200 with the existing item."""
    item, created = await wishlists.add_item(
        session, customer.id, wishlist_id, body.variant_id, note=body.note,
        set_note="note" in body.model_fields_set,
    )
    if not created:
        response.status_code = 200
    return item_out(item)


@router.delete("/{wishlist_id}/items/{variant_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 404))
async def remove_item(
    wishlist_id: str, variant_id: str, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> Response:
    await wishlists.remove_item(session, customer.id, wishlist_id, variant_id)
    return Response(status_code=204)
