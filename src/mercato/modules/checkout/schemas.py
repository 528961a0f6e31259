"""Checkout request and response bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway: str = Field(min_length=1, max_length=50, description="A payment gateway enabled in the shop (`test`)")
    token: str = Field(min_length=1, max_length=500, description="What the storefront's payment form produced")


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment: PaymentIn


class CheckoutOut(BaseModel):
    order: dict[str, Any] = Field(description="The order (see GET /store/orders/{order_id})")
    order_token: str = Field(description="Shows the order to whoever holds it: GET /store/orders/{id}?token=")
    next_action: dict[str, Any] | None = Field(
        default=None, description="202 only: what the buyer must do (3-D Secure) before the payment completes")
