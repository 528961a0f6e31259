"""Cart rules without I/O: quantity limits, merging lines, lifetimes, price changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from mercato.kit.errors import FieldError

HARD_MAX_QUANTITY = 1000  # units of one line, whatever the variant allows
MAX_LINES = 100  # different variants in one cart
MAX_COUPONS = 5
# Lifetimes after the last change: a guest's cart is found again only by its id, a customer's on any
# device, so the customer's lives longer. (Module constants: kit settings are not this module's.)
GUEST_TTL = timedelta(days=30)
CUSTOMER_TTL = timedelta(days=90)
# `cart.abandoned` once a cart with an email and lines saw no change for this long.
ABANDONED_AFTER = timedelta(hours=24)
# Completed carts stay readable this long (an order confirmation page may still show one).
COMPLETED_TTL = timedelta(days=7)


def quantity_errors(quantity: int, *, min_quantity: int, max_quantity: int | None,
                    field: str = "quantity") -> list[FieldError]:
    """Why `quantity` is not allowed for a variant (empty when it is)."""
    if quantity < 1:
        return [FieldError(field, "too_small", "At least 1.")]
    if quantity > HARD_MAX_QUANTITY:
        return [FieldError(field, "too_large", f"At most {HARD_MAX_QUANTITY} per item.")]
    if quantity < min_quantity:
        return [FieldError(field, "below_minimum", f"This item is sold from {min_quantity} units.")]
    if max_quantity is not None and quantity > max_quantity:
        return [FieldError(field, "above_maximum", f"At most {max_quantity} of this item per order.")]
    return []


def allowed_maximum(max_quantity: int | None) -> int:
    return min(HARD_MAX_QUANTITY, max_quantity) if max_quantity is not None else HARD_MAX_QUANTITY


def merged_quantity(held: int, added: int, *, min_quantity: int, max_quantity: int | None) -> int:
    """The quantity of a line when a guest cart's line joins the customer's: the sum, capped at the
    variant's maximum and the hard limit, and at least the variant's minimum."""
    return max(min_quantity, min(held + added, allowed_maximum(max_quantity)))


def expires_at(changed_at: datetime, *, customer: bool) -> datetime:
    return changed_at + (CUSTOMER_TTL if customer else GUEST_TTL)


def stock_shortage(quantity: int, *, tracked: bool, free: int, field: str = "quantity") -> list[FieldError]:
    """A line wanting more than the channel's warehouses can hand out (stock is checked, never held)."""
    if not tracked or quantity <= free:
        return []
    return [FieldError(field, "insufficient_stock", f"{quantity} wanted, {max(0, free)} available.")]


def merge_coupons(held: Iterable[str], added: Iterable[str]) -> list[str]:
    """The union in order of first appearance, at most MAX_COUPONS."""
    return list(dict.fromkeys([*held, *added]))[:MAX_COUPONS]
