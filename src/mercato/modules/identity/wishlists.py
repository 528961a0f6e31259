"""Customers' named wishlists of catalogue variants.

Variant ids are not checked against the catalogue: its variants table does not exist yet, and a
wishlist may outlive a variant anyway (storefronts show such items as no longer available).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, InvalidInput
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.identity.addresses import lock_customer
from mercato.modules.identity.errors import (
    WishlistFull,
    WishlistItemNotFound,
    WishlistLimitReached,
    WishlistNameTaken,
    WishlistNotFound,
)
from mercato.modules.identity.models import Wishlist, WishlistItem

MAX_WISHLISTS = 50
MAX_ITEMS = 500  # also bounds GET /store/me/wishlists/{id}, which returns every item


@dataclass(frozen=True)
class WishlistSummary:
    id: uuid.UUID
    name: str
    item_count: int
    created_at: datetime
    updated_at: datetime


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("Name the wishlist.", errors=[FieldError("name", "required", "This field is required.")])
    if len(cleaned) > 100:
        raise InvalidInput("The name is too long.", errors=[FieldError("name", "too_long", "At most 100 characters.")])
    return cleaned


async def list_wishlists(session: AsyncSession, customer_id: uuid.UUID, *, limit: int,
                         cursor: str | None) -> Page[WishlistSummary]:
    """One query: the page of wishlists with their item counts."""
    stmt: Select[Any] = (
        select(Wishlist.id, Wishlist.name, Wishlist.created_at, Wishlist.updated_at,  # type: ignore[assignment]
               func.count(WishlistItem.variant_id).label("item_count"))
        .outerjoin(WishlistItem, WishlistItem.wishlist_id == Wishlist.id)
        .where(Wishlist.customer_id == customer_id)
        .group_by(Wishlist.id)
    )
    page = await keyset_page(session, stmt, [SortKey(Wishlist.created_at), SortKey(Wishlist.id)],
                             limit=limit, cursor=cursor, scalars=False)
    return Page(
        [WishlistSummary(r.id, r.name, int(r.item_count), r.created_at, r.updated_at) for r in page.items],
        page.next_cursor,
    )


async def get_wishlist(session: AsyncSession, customer_id: uuid.UUID, wishlist_id: str, *,
                       for_update: bool = False) -> Wishlist:
    """The customer's own wishlist; someone else's is as unknown as one that never existed."""
    parsed = parse_id(wishlist_id)
    row = None
    if parsed is not None:
        stmt = select(Wishlist).where(Wishlist.id == parsed, Wishlist.customer_id == customer_id)
        row = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise WishlistNotFound("No such wishlist.")
    return row


async def items_of(session: AsyncSession, wishlist_id: uuid.UUID) -> list[WishlistItem]:
    stmt = (
        select(WishlistItem)
        .where(WishlistItem.wishlist_id == wishlist_id)
        .order_by(WishlistItem.added_at, WishlistItem.variant_id)
        .limit(MAX_ITEMS)
    )
    return list((await session.execute(stmt)).scalars())


async def _ensure_name_free(session: AsyncSession, customer_id: uuid.UUID, name: str,
                            exclude: uuid.UUID | None = None) -> None:
    # Case-insensitive: "Birthday" and "birthday" side by side would only confuse.
    stmt = select(Wishlist.id).where(Wishlist.customer_id == customer_id,
                                     func.lower(Wishlist.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Wishlist.id != exclude)
    if await session.scalar(stmt.limit(1)) is not None:
        raise WishlistNameTaken("You already have a wishlist with this name.",
                                errors=[FieldError("name", "taken", "Choose another name.")])


async def create_wishlist(session: AsyncSession, customer_id: uuid.UUID, name: str) -> Wishlist:
    cleaned = clean_name(name)
    await lock_customer(session, customer_id)
    count = await session.scalar(
        select(func.count()).select_from(Wishlist).where(Wishlist.customer_id == customer_id)
    )
    if (count or 0) >= MAX_WISHLISTS:
        raise WishlistLimitReached(f"You can keep at most {MAX_WISHLISTS} wishlists; delete one first.")
    await _ensure_name_free(session, customer_id, cleaned)
    now = utcnow()
    row = Wishlist(id=new_id(), customer_id=customer_id, name=cleaned, created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def rename_wishlist(session: AsyncSession, customer_id: uuid.UUID, wishlist_id: str, name: str) -> Wishlist:
    cleaned = clean_name(name)
    await lock_customer(session, customer_id)
    row = await get_wishlist(session, customer_id, wishlist_id)
    if cleaned != row.name:
        await _ensure_name_free(session, customer_id, cleaned, exclude=row.id)
        row.name = cleaned
        row.updated_at = utcnow()
        await session.flush()
    return row


async def delete_wishlist(session: AsyncSession, customer_id: uuid.UUID, wishlist_id: str) -> None:
    row = await get_wishlist(session, customer_id, wishlist_id)
    await session.delete(row)  # its items go with it (ON DELETE CASCADE)
    await session.flush()


def parse_variant_id(value: str | uuid.UUID) -> uuid.UUID:
    parsed = value if isinstance(value, uuid.UUID) else parse_id(value.strip())
    if parsed is None:
        raise InvalidInput("The variant id is not valid.",
                           errors=[FieldError("variant_id", "invalid", "Expected a variant id (a UUID).")])
    return parsed


async def add_item(
    session: AsyncSession, customer_id: uuid.UUID, wishlist_id: str, variant_id: str | uuid.UUID, *,
    note: str | None = None, set_note: bool = False,
) -> tuple[WishlistItem, bool]:
    """Add a variant; adding it again changes nothing (but the note, when one is sent).
    Returns (item, created)."""
    variant = parse_variant_id(variant_id)
    # The wishlist's row lock serialises adds to it, so the size check and the insert cannot race.
    wishlist = await get_wishlist(session, customer_id, wishlist_id, for_update=True)
    cleaned_note = (note or "").strip() or None
    item = await session.get(WishlistItem, (wishlist.id, variant))
    if item is not None:
        if set_note and item.note != cleaned_note:
            item.note = cleaned_note
            wishlist.updated_at = utcnow()
            await session.flush()
        return item, False
    count = await session.scalar(
        select(func.count()).select_from(WishlistItem).where(WishlistItem.wishlist_id == wishlist.id)
    )
    if (count or 0) >= MAX_ITEMS:
        raise WishlistFull(f"A wishlist holds at most {MAX_ITEMS} items.")
    now = utcnow()
    item = WishlistItem(wishlist_id=wishlist.id, variant_id=variant, note=cleaned_note, added_at=now)
    session.add(item)
    wishlist.updated_at = now
    await session.flush()
    return item, True


async def remove_item(session: AsyncSession, customer_id: uuid.UUID, wishlist_id: str, variant_id: str) -> None:
    wishlist = await get_wishlist(session, customer_id, wishlist_id, for_update=True)
    parsed = parse_id(variant_id)
    item = None if parsed is None else await session.get(WishlistItem, (wishlist.id, parsed))
    if item is None:
        raise WishlistItemNotFound("This variant is not on the wishlist.")
    await session.delete(item)
    wishlist.updated_at = utcnow()
    await session.flush()
