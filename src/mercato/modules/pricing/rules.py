"""Which unit price a line gets: the variant's base price in the channel, or a price-list entry.

An entry (a *candidate*) applies to a line when
  1. its list is active and `at` lies in the list's window (valid_from <= at < valid_to, open ends allowed),
  2. its list is for everyone (no customer group) or for a group the customer belongs to,
  3. its `min_quantity` is at most the line's quantity.

Among the applicable candidates the winner is chosen in this order:
  1. per list, only the tier with the highest `min_quantity` counts (the list's price for that quantity);
  2. between lists, the highest `priority` wins;
  3. between lists of equal priority, the lowest amount wins (the customer gets the better price);
  4. then the lowest price list id, so the answer never depends on input order.
No applicable candidate: the base price. A winning entry replaces the base price even when it is
higher: a price list is an explicit decision (a B2B list may well be above a retail sale).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Candidate:
    """One price-list entry of the variant, with what of its list decides whether it applies."""

    price_list_id: uuid.UUID
    amount: int
    min_quantity: int = 1
    priority: int = 0
    customer_group_id: uuid.UUID | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    is_active: bool = True
    price_list_name: str = ""


@dataclass(frozen=True)
class PriceResolution:
    amount: int
    base_amount: int
    source: Literal["base", "price_list"]
    price_list_id: uuid.UUID | None
    min_quantity: int | None
    explanation: str


def applies(candidate: Candidate, quantity: int, at: datetime, groups: frozenset[uuid.UUID]) -> bool:
    return (
        candidate.is_active
        and (candidate.valid_from is None or candidate.valid_from <= at)
        and (candidate.valid_to is None or at < candidate.valid_to)
        and (candidate.customer_group_id is None or candidate.customer_group_id in groups)
        and candidate.min_quantity <= quantity
    )


def unit_price(
    base: int,
    candidates: Iterable[Candidate],
    quantity: int,
    at: datetime,
    *,
    groups: frozenset[uuid.UUID] = frozenset(),
) -> PriceResolution:
    """The unit price for `quantity` units at `at` for a customer in `groups` (see the module doc)."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    tier_of_list: dict[uuid.UUID, Candidate] = {}
    for candidate in candidates:
        if not applies(candidate, quantity, at, groups):
            continue
        held = tier_of_list.get(candidate.price_list_id)
        if held is None or (candidate.min_quantity, -candidate.amount) > (held.min_quantity, -held.amount):
            tier_of_list[candidate.price_list_id] = candidate
    if not tier_of_list:
        return PriceResolution(base, base, "base", None, None, "base price: no price list applies")
    best = min(tier_of_list.values(), key=lambda c: (-c.priority, c.amount, c.price_list_id))
    name = f" {best.price_list_name!r}" if best.price_list_name else ""
    audience = "customer group" if best.customer_group_id is not None else "everyone"
    explanation = (
        f"price list{name} ({best.price_list_id}, {audience}, priority {best.priority}), "
        f"tier from {best.min_quantity} unit{'s' if best.min_quantity != 1 else ''}"
    )
    return PriceResolution(best.amount, base, "price_list", best.price_list_id, best.min_quantity, explanation)
