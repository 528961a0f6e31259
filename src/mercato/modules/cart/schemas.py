"""Request bodies of /store/carts and the documented shape of a cart (responses are built as plain
JSON by render.cart_json; these models describe them in the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CartIn(_In):
    currency: str | None = Field(default=None, min_length=3, max_length=3,
                                 description="Must be the channel's currency (422 `cart.currency_mismatch`)")


class LineIn(_In):
    variant_id: str = Field(min_length=1, max_length=100)
    quantity: int = Field(description="Units to add (1 to 1000, within the variant's limits)")


class LineUpdateIn(_In):
    quantity: int = Field(description="The line's new quantity (1 to 1000, within the variant's limits)")


class CartUpdateIn(_In):
    """Fields sent are set (null clears one); fields left out stay as they are."""

    email: str | None = Field(default=None, max_length=320)
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None


class ShippingChoiceIn(_In):
    shipping_option_id: str = Field(min_length=1, max_length=200)


class CouponIn(_In):
    code: str = Field(min_length=1, max_length=80)


class Money(BaseModel):
    amount: int
    currency: str


class CartLineOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    variant_id: str
    product_id: str | None
    sku: str
    name: str
    quantity: int
    unit_price: Money
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    available: bool
    price_changed: bool
    previous_unit_price: Money | None
    breakdown: list[dict[str, Any]]


class ShippingOptionOut(BaseModel):
    id: str
    name: str
    price: Money
    min_days: int
    max_days: int


class TotalsOut(BaseModel):
    subtotal: Money
    discount: Money
    shipping: Money
    tax: Money
    total: Money


class CouponProblem(BaseModel):
    code: str
    reason: str
    message: str


class AppliedPromotion(BaseModel):
    id: str
    name: str
    code: str | None
    kind: str
    amount: Money


class CartOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    channel: str
    currency: str
    customer_id: str | None
    status: str
    lines: list[CartLineOut]
    email: str | None = Field(description="The cart's email; for a signed-in customer's cart without one, the "
                                          "customer's own (where the order's mail goes).")
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_option: ShippingOptionOut | None
    coupons: list[str]
    coupon_problems: list[CouponProblem]
    promotions: list[AppliedPromotion]
    totals: TotalsOut
    tax_included: bool
    tax_calculated: bool
    tax_exempt: bool = Field(default=False, description="The customer is in a tax-exempt group (B2B)")
    breakdown: list[dict[str, Any]]
    created_at: str
    updated_at: str
    expires_at: str
