"""Order events, written to the outbox in the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class OrderPlaced:
    name: ClassVar[str] = "order.placed"
    order_id: str
    number: str
    channel_id: str
    customer_id: str | None
    email: str
    currency: str
    total: int
    coupons: list[str] = field(default_factory=list)
    # [{"variant_id", "sku", "quantity"}]
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class OrderConfirmed:
    """The order's payment was secured (authorized or captured)."""

    name: ClassVar[str] = "order.confirmed"
    order_id: str
    number: str
    payment_status: str
