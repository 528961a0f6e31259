"""Add-to-cart on bare connections: the storefront's most frequent write, without the web
framework's routing and dependency injection or an ORM session (the app's fast path calls this).

It is `service.add_line` itself, for a guest's cart, run on the raw pool optimistically: the cart
is read without a lock and written by one statement only if no one changed it meanwhile (a
concurrent change makes it read and try again) — no BEGIN/COMMIT round trips (requests with a
customer's bearer token or an Idempotency-Key are the route's). The carts of adds that start at
the same moment are read by one statement (`repository.load_guests`, gathered by
`kit.batching.TickBatcher`): under load the read is most of an add's database work, and most of a
statement's cost is fixed. Each add then prices, checks and writes its own cart as before.

What it does not do here — a refusal to explain (problem+json), a cart that needs a session
(`service.NeedsSession`) — the caller leaves to the route, which answers it; nothing is written in
that case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mercato.kit.batching import TickBatcher
from mercato.kit.clock import utcnow
from mercato.kit.db import Database
from mercato.kit.ids import parse_id
from mercato.modules.cart import service
from mercato.modules.cart.errors import CartNotFound
from mercato.modules.cart.repository import CartState, GuestLoad, load_guests

_ATTEMPTS = 3  # then CartChanged reaches the caller, and the route (which locks the cart) does it


class GuestLineAdds:
    """Guests' adds to their carts on `database`'s raw pool (its sessions when it has none, as tests
    build it: then each add is the route's locked change, committed)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._loads: TickBatcher[GuestLoad, CartState | None] = TickBatcher(self._load)

    async def add(self, cart_id: str, *, variant_id: str, quantity: int) -> tuple[dict[str, Any], bool]:
        """(cart, created) after adding to the guest cart `cart_id`, committed. Raises what the
        route would answer, and `service.NeedsSession`."""
        if self.database.raw_pool is None:
            async with self.database.sessionmaker() as session:
                added = await service.add_line(session, cart_id, customer_id=None, variant_id=variant_id,
                                               quantity=quantity)
                await session.commit()
                return added
        cart = parse_id(cart_id)
        if cart is None:
            raise CartNotFound()
        for attempt in range(1, _ATTEMPTS + 1):
            now = utcnow()
            # Read before taking a connection for the write: the read's batch needs one of its own.
            state = await self._loads.submit(GuestLoad(cart, parse_id(variant_id), now))
            if state is None:
                raise CartNotFound()
            async with self.database.own_connection() as db:
                try:
                    return await service.add_line(db, cart_id, customer_id=None, variant_id=variant_id,
                                                  quantity=quantity, optimistic=True, loaded=(state, now))
                except service.CartChanged:
                    if attempt == _ATTEMPTS:
                        raise
        raise AssertionError("unreachable")

    async def _load(self, loads: Sequence[GuestLoad]) -> list[CartState | None]:
        async with self.database.own_connection() as db:
            return await load_guests(db, loads)
