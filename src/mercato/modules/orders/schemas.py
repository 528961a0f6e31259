"""Response and request shapes of the order endpoints (API.md's Order shape, plus per-line amounts
and breakdowns, and for staff the timeline and payments)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OrderMoney(BaseModel):
    amount: int = Field(description="Integer minor units")
    currency: str


class OrderLineOut(BaseModel):
    id: str
    variant_id: str
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price: OrderMoney
    subtotal: OrderMoney = Field(description="unit_price × quantity")
    discount: OrderMoney
    tax: OrderMoney
    total: OrderMoney
    tax_rate_ppm: int = Field(description="Parts per million: 19 % = 190000")
    breakdown: list[dict[str, Any]] = Field(description="Each adjustment of the line's price and its source")


class OrderTotals(BaseModel):
    subtotal: OrderMoney
    discount: OrderMoney
    shipping: OrderMoney
    tax: OrderMoney
    total: OrderMoney


class OrderOut(BaseModel):
    id: str
    number: str = Field(description='Human-readable, sequential: "M-100001"')
    status: str = Field(description="pending, confirmed, processing, completed, cancelled")
    payment_status: str = Field(description="pending, requires_action, authorized, captured, failed, declined, "
                                            "voided, partially_refunded, refunded")
    fulfillment_status: str = Field(description="unfulfilled, partially_fulfilled, fulfilled, returned")
    currency: str
    email: str
    lines: list[OrderLineOut]
    totals: OrderTotals
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    shipping_option: dict[str, Any] | None
    coupons: list[str]
    prices_include_tax: bool
    breakdown: list[dict[str, Any]] = Field(description="Order-level adjustments (discounts, shipping, tax)")
    created_at: datetime
    updated_at: datetime


class OrderEventOut(BaseModel):
    id: str
    kind: str = Field(description='"order.placed", "payment.authorized", "payment.confirmed", ...')
    data: dict[str, Any]
    actor: str | None
    created_at: datetime


class OrderPaymentOut(BaseModel):
    id: str
    gateway: str
    status: str
    amount: OrderMoney
    psp_reference: str | None
    decline_code: str | None
    created_at: datetime


class AdminOrderOut(OrderOut):
    customer_id: str | None
    channel_id: str
    cart_id: str | None
    events: list[OrderEventOut] = Field(default_factory=list, description="The timeline, oldest first")
    payments: list[OrderPaymentOut] = Field(default_factory=list)


class AdminOrderSummary(OrderOut):
    customer_id: str | None
    channel_id: str
    cart_id: str | None


class OrderList(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class AdminOrderList(BaseModel):
    items: list[AdminOrderSummary]
    next_cursor: str | None


class PaymentConfirmIn(BaseModel):
    """The outcome of the buyer's 3-D Secure challenge. With the `test` gateway the storefront
    chooses it: `approve` authorizes the payment, `fail` declines it (402)."""

    model_config = ConfigDict(extra="forbid")

    result: Literal["approve", "fail"]
