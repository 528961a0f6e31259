"""/store/carts: guest and customer carts, their lines, buyer data, shipping and coupons.

A guest uses a cart by its id; a customer's bearer token attaches a new cart to them (one active
cart per customer and channel) and is then needed for every use of it (404 to anyone else).
`POST /store/carts/{id}/merge` with a customer's token merges a guest cart into theirs after
sign-in. Every response is the whole cart, priced now.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from mercato.kit.settings import Settings
from mercato.kit.web.auth import Principal, optional_principal, require_customer
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session, idempotent
from mercato.modules.cart import service
from mercato.modules.cart.schemas import (
    CartIn,
    CartOut,
    CartUpdateIn,
    CouponIn,
    LineIn,
    LineUpdateIn,
    ShippingChoiceIn,
    ShippingOptionOut,
)

router = APIRouter(prefix="/store/carts", tags=["store: cart"], route_class=MercatoRoute)
routers = [router]

_CART = {"model": CartOut, "description": "The cart"}
_WRITE_ERRORS = problem_responses(400, 401, 404, 409, 415, 422)


def _json(body: Any, status: int = 200) -> Response:
    # Carts are private and change with every request: no cache may keep one.
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _customer(principal: Principal | None) -> uuid.UUID | None:
    if principal is None or principal.kind != "customer":
        return None
    return uuid.UUID(principal.id)


@router.post("", status_code=201, response_class=Response,
             responses={201: _CART, 200: {"model": CartOut, "description": "The customer's active cart"},
                        **problem_responses(400, 401, 415, 422)})
@idempotent
async def create_cart(
    request: Request,
    body: CartIn | None = Body(default=None),
    channel: str | None = Query(default=None, min_length=1, max_length=50,
                                description="Channel code (default: the store's default channel); "
                                            "unknown → 422 `cart.unknown_channel`"),
    principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """A new cart (201). With a customer's bearer token it belongs to them; when they already have
    an active cart in the channel that one is returned (200). A currency other than the channel's
    → 422 `cart.currency_mismatch`."""
    settings: Settings = request.app.state.settings
    cart, created = await service.create_cart(session, channel_code=channel or settings.default_channel,
                                              currency=body.currency if body else None,
                                              customer_id=_customer(principal))
    return _json(cart, 201 if created else 200)


@router.get("/{cart_id}", response_class=Response, responses={200: _CART, **problem_responses(401, 404)})
async def get_cart(
    cart_id: str, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The cart priced now; a line whose price changed since it was last changed shows
    `price_changed` and `previous_unit_price`."""
    return _json(await service.get_cart(session, cart_id, customer_id=_customer(principal)))


@router.post("/{cart_id}/lines", status_code=201, response_class=Response,
             responses={201: _CART, 200: {"model": CartOut, "description": "Added to an existing line"},
                        **_WRITE_ERRORS})
@idempotent
async def add_line(
    cart_id: str, body: LineIn, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Add units of a variant: 201 with a new line, 200 when added to the variant's line. Unknown
    variant → 422 `cart.unknown_variant`; not for sale in the cart's channel → 409
    `cart.variant_unavailable`; quantity outside 1–1000 or the variant's limits → 422
    `cart.invalid_quantity`; more than the warehouses can hand out → 409 `cart.insufficient_stock`
    (stock is checked, not held: checkout reserves it); more than 100 lines → 409
    `cart.too_many_lines`; a cart that became an order → 409 `cart.completed`."""
    cart, created = await service.add_line(session, cart_id, customer_id=_customer(principal),
                                           variant_id=body.variant_id, quantity=body.quantity)
    return _json(cart, 201 if created else 200)


@router.patch("/{cart_id}/lines/{line_id}", response_class=Response, responses={200: _CART, **_WRITE_ERRORS})
async def update_line(
    cart_id: str, line_id: str, body: LineUpdateIn, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Set a line's quantity (same checks as adding); unknown line → 404 `cart.line_not_found`."""
    return _json(await service.update_line(session, cart_id, line_id, customer_id=_customer(principal),
                                           quantity=body.quantity))


@router.delete("/{cart_id}/lines/{line_id}", response_class=Response,
               responses={200: _CART, **problem_responses(401, 404, 409)})
async def remove_line(
    cart_id: str, line_id: str, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    return _json(await service.remove_line(session, cart_id, line_id, customer_id=_customer(principal)))


@router.patch("/{cart_id}", response_class=Response, responses={200: _CART, **_WRITE_ERRORS})
async def update_cart(
    cart_id: str, body: CartUpdateIn, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Email and addresses (fields sent are set, null clears). Addresses are checked per country
    (422 `address.invalid` naming `shipping_address.postal_code` ...); a shipping country the
    channel does not sell to → 422 `cart.country_not_supported`. A chosen shipping option that no
    longer applies to the new address is dropped."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return _json(await service.update_details(session, cart_id, customer_id=_customer(principal), changes=changes))


@router.get("/{cart_id}/shipping-options", response_model=list[ShippingOptionOut],
            responses=problem_responses(401, 404, 422))
async def list_shipping_options(
    cart_id: str, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The options for the cart's shipping address (422 `cart.shipping_address_required` without
    one), cheapest first."""
    return _json(await service.shipping_options(session, cart_id, customer_id=_customer(principal)))


@router.put("/{cart_id}/shipping-option", response_class=Response, responses={200: _CART, **_WRITE_ERRORS})
async def choose_shipping_option(
    cart_id: str, body: ShippingChoiceIn, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Choose one of the shipping options; one that does not apply → 422
    `shipping.option_unavailable`; no shipping address yet → 422 `cart.shipping_address_required`."""
    return _json(await service.choose_shipping(session, cart_id, customer_id=_customer(principal),
                                               option_id=body.shipping_option_id))


@router.post("/{cart_id}/coupons", response_class=Response,
             responses={200: _CART, **problem_responses(400, 401, 404, 409, 415, 422, 429)})
@idempotent
async def add_coupon(
    cart_id: str, body: CouponIn, request: Request, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Apply a coupon code; one that does not apply → 422 with the reason as the code
    (`promotion.not_found`, `promotion.expired`, `promotion.not_eligible`, ...); after too many
    codes that did not work (per client, MERCATO_RATE_LIMIT_COUPON) → 429 `promotion.rate_limited`."""
    settings: Settings = request.app.state.settings
    guard = service.CouponGuard(request.app.state.rate_limiter,
                                request.client.host if request.client else "unknown", settings.rate_limit_coupon)
    return _json(await service.add_coupon(session, cart_id, customer_id=_customer(principal), code=body.code,
                                          guard=guard))


@router.delete("/{cart_id}/coupons/{code}", response_class=Response,
               responses={200: _CART, **problem_responses(401, 404, 409)})
async def remove_coupon(
    cart_id: str, code: str, principal: Principal | None = Depends(optional_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Take a code off the cart (404 `cart.coupon_not_found` when it does not carry it)."""
    return _json(await service.remove_coupon(session, cart_id, code, customer_id=_customer(principal)))


@router.post("/{cart_id}/merge", response_class=Response,
             responses={200: _CART, **problem_responses(400, 401, 404, 409)})
@idempotent
async def merge_cart(
    cart_id: str, principal: Principal = Depends(require_customer), session: AsyncSession = Depends(get_session),
) -> Response:
    """After sign-in: merge the guest cart `cart_id` into the customer's active cart in its channel
    (quantities added within each item's limits, coupons and missing buyer data carried over; the
    guest cart is deleted), or make it theirs when they have none. Returns the resulting cart."""
    return _json(await service.merge(session, cart_id, customer_id=uuid.UUID(principal.id)))
