"""Add-to-cart on a bare connection: the storefront's most frequent write, without the web
framework's routing and dependency injection or an ORM session (the app's fast path calls this).

It is `service.add_line` itself, for a guest's cart, run on a bare connection of `kit.db.RawPool`
optimistically: the cart is read without a lock and written by one statement only if no one
changed it meanwhile (a concurrent change makes it read and try again) — two statements and no
BEGIN/COMMIT round trips (requests with a customer's bearer token or an Idempotency-Key are the
route's). What it does not do here — a refusal to explain (problem+json), a cart that needs a
session (`service.NeedsSession`) — the caller leaves to the route, which answers it; nothing is
written in that case.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.cart import service

_ATTEMPTS = 3  # then CartChanged reaches the caller, and the route (which locks the cart) does it


async def add_guest_line(db: Any, cart_id: str, *, variant_id: str, quantity: int) -> tuple[dict[str, Any], bool]:
    """(cart, created) after adding to the guest cart `cart_id`, committed. `db`: what
    `Database.own_connection` gives (a bare connection, or a session). Raises what the route
    would answer, and `service.NeedsSession`."""
    if isinstance(db, AsyncSession):
        added = await service.add_line(db, cart_id, customer_id=None, variant_id=variant_id, quantity=quantity)
        await db.commit()
        return added
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await service.add_line(db, cart_id, customer_id=None, variant_id=variant_id, quantity=quantity,
                                          optimistic=True)
        except service.CartChanged:
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")
