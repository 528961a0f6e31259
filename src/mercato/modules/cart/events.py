"""Cart events, written to the outbox in the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class CartAbandoned:
    """A cart with an email (its own, or its customer's account address) and lines saw no change
    for `ABANDONED_AFTER` (once per such spell): for a reminder mail. Amounts are what the lines
    cost when last changed (minor units)."""

    name: ClassVar[str] = "cart.abandoned"
    cart_id: str
    channel_id: str
    customer_id: str | None
    email: str
    currency: str
    line_count: int
    quantity: int
    subtotal: int
    last_activity_at: str
