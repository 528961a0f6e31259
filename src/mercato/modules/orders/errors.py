"""Order errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, NotFound


class OrderNotFound(NotFound):
    """Also the answer for an order that exists but is not the caller's (no existence oracle)."""

    code = "order.not_found"
    title = "Order not found"

    def __init__(self) -> None:
        super().__init__("No such order.")


class CartAlreadyOrdered(Conflict):
    """A second order for the same cart (a double-clicked checkout that slipped past the cart lock)."""

    code = "order.cart_already_ordered"
    title = "Order already placed"

    def __init__(self) -> None:
        super().__init__("An order was already placed for this cart.")
