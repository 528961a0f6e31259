"""/store/orders (the buyer's view of their orders, and completing a 3-D Secure payment) and
/admin/orders (staff with `orders:read`).

A buyer sees an order with the bearer token of the customer who placed it, or with `?token=` (the
order token checkout returned). Anything else is 404, also for orders that exist.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, get_args

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, optional_principal, require_customer, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules.orders import payment_flow, service
from mercato.modules.orders.errors import OrderNotFound
from mercato.modules.orders.rules import ORDER_STATUSES
from mercato.modules.orders.schemas import AdminOrderList, AdminOrderOut, OrderList, OrderOut, PaymentConfirmIn

store = APIRouter(prefix="/store", tags=["store: orders"], route_class=MercatoRoute)
admin = APIRouter(prefix="/admin/orders", tags=["admin: orders"], route_class=MercatoRoute)
READ = require_permission("orders:read")

OrderToken = Query(default=None, min_length=1, max_length=128,
                   description="The order token from checkout (instead of a customer's bearer token)")
OrderStatus = Literal["pending", "confirmed", "processing", "completed", "cancelled"]
assert set(get_args(OrderStatus)) == set(ORDER_STATUSES)


def _customer_id(principal: Principal | None) -> str | None:
    return principal.id if principal is not None and principal.kind == "customer" else None


@store.get("/orders/{order_id}", response_model=OrderOut, responses=problem_responses(401, 404, 422))
async def get_order(
    order_id: str, token: str | None = OrderToken, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    """The order, for the customer who placed it (bearer token) or the holder of its order token."""
    return await service.shopper_order_json(session, order_id, customer_id=_customer_id(principal), token=token)


@store.get("/me/orders", response_model=OrderList, responses=problem_responses(401, 422))
async def my_orders(
    page: PageParams = Depends(page_params), principal: Principal = Depends(require_customer),
    session: AsyncSession = Depends(get_session),
) -> OrderList:
    """The signed-in customer's orders, newest first."""
    result = await service.customer_orders(session, uuid.UUID(principal.id), limit=page.limit, cursor=page.cursor)
    return OrderList.model_validate({"items": result.items, "next_cursor": result.next_cursor})


@store.post("/orders/{order_id}/payment/confirm", response_model=OrderOut,
            responses=problem_responses(400, 401, 402, 404, 409, 415, 422, 503))
@idempotent
async def confirm_payment(
    order_id: str, body: PaymentConfirmIn, token: str | None = OrderToken,
    principal: Principal | None = Depends(optional_principal), session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    """Complete a payment that answered `requires_action` (3-D Secure) with the challenge's result
    (`test` gateway: `approve` or `fail`). Returns the order, its payment now `authorized` and the
    order `confirmed`. Authentication failed → 402 `payment.declined` (the payment still waits: try
    again); nothing waiting → 409 `payment.no_action_required`. Honours `Idempotency-Key`."""
    customer_id = _customer_id(principal)
    actor = f"customer:{customer_id}" if customer_id else "guest"
    return await payment_flow.confirm_payment(session, order_id, result=body.result, customer_id=customer_id,
                                              token=token, actor=actor)


@admin.get("", response_model=AdminOrderList, responses=problem_responses(401, 403, 422))
async def list_orders(
    status: OrderStatus | None = Query(default=None),
    customer_id: uuid.UUID | None = Query(default=None),
    email: str | None = Query(default=None, min_length=1, max_length=320, description="Exact, case-insensitive"),
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> AdminOrderList:
    """Orders, newest first (without timeline and payments: see the single order)."""
    result = await service.search_orders(session, status=status, customer_id=customer_id, email=email,
                                         limit=page.limit, cursor=page.cursor)
    return AdminOrderList.model_validate({"items": result.items, "next_cursor": result.next_cursor})


@admin.get("/{order_id}", response_model=AdminOrderOut, responses=problem_responses(401, 403, 404))
async def admin_get_order(
    order_id: str, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    """The order with its `events[]` timeline (oldest first) and its payments."""
    parsed = _parse(order_id)
    return await service.order_json(session, parsed, admin=True)


def _parse(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise OrderNotFound() from None


routers = [store, admin]
