"""POST /store/carts/{cart_id}/checkout: the cart becomes an order, paid."""

from __future__ import annotations

import uuid

import orjson
from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from mercato.kit.errors import NotFound
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import optional_principal
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules.checkout.schemas import CheckoutIn, CheckoutOut
from mercato.modules.checkout.service import place_order

router = APIRouter(prefix="/store/carts", tags=["store: checkout"], route_class=MercatoRoute)


@router.post("/{cart_id}/checkout", status_code=201, response_class=Response,
             responses={201: {"model": CheckoutOut, "description": "The order, paid (payment authorized)"},
                        202: {"model": CheckoutOut, "description": "The order, waiting for the buyer's action"},
                        **problem_responses(400, 401, 402, 404, 409, 415, 422, 503)})
@idempotent
async def checkout(
    cart_id: str, body: CheckoutIn, request: Request, session: AsyncSession = Depends(get_session),
    idempotency_key: str | None = Header(default=None, max_length=255,
                                         description="Retries with the same key give the same answer"),
) -> Response:
    """Re-validates the whole cart (prices, promotions, shipping, stock) in one transaction, holds
    and allocates its stock, counts coupon use, creates the order and authorizes the payment.
    Send an `Idempotency-Key`: a retried or double-clicked checkout then answers with the same order;
    without one, a second checkout of the same cart answers 409 `cart.completed`.

    402 `payment.declined`: no order, the cart and its stock hold are kept (try another card, with a
    new key). 409 `inventory.insufficient_stock`, `promotion.usage_limit_reached`, `cart.completed`.
    503 `payment.processing_error`: nothing happened, retry with the same key."""
    parsed = parse_id(cart_id)
    if parsed is None:
        raise NotFound("No such cart.", code="cart.not_found")
    principal = await optional_principal(request)
    customer_id = uuid.UUID(principal.id) if principal is not None and principal.kind == "customer" else None
    result = await place_order(session, cart_id=parsed, customer_id=customer_id, gateway=body.payment.gateway,
                               token=body.payment.token, attempt_key=idempotency_key or uuid.uuid4().hex)
    return Response(orjson.dumps(result.body), status_code=result.status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})
routers = [router]
