"""Cart use cases. Every change locks the cart row first (one statement that also reads the lines
and everything about their variants), validates in memory, prices the result, then writes lines
and cart in one statement and renders the response from memory. Bad input raises before anything
is written, so a refused change leaves the cart as it was.

Who may use a cart: a guest cart (no customer) — anyone holding its id (128 random bits); a
customer's cart — only that customer's bearer token. Everyone else gets 404, as for a cart that
does not exist or has expired.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id, parse_id
from mercato.kit.ratelimit import RateLimiter
from mercato.kit.sql import Executor
from mercato.modules import channels, identity, inventory, promotions, shipping
from mercato.modules.cart import rules
from mercato.modules.cart.errors import (
    CartCompleted,
    CartNotFound,
    CountryNotSold,
    CouponNotOnCart,
    CurrencyMismatch,
    InsufficientStock,
    InvalidCart,
    InvalidQuantity,
    LineNotFound,
    NotYourGuestCart,
    ShippingAddressRequired,
    TooManyCoupons,
    TooManyLines,
    UnknownChannel,
    UnknownVariant,
    VariantUnavailable,
)
from mercato.modules.cart.models import Cart
from mercato.modules.cart.pricing import PricedCart, Proposed, price, proposed_lines
from mercato.modules.cart.render import cart_json, money
from mercato.modules.cart.repository import (
    CartState,
    Item,
    LineWrite,
    active_cart_of,
    attach_if_free,
    insert_cart,
    load,
    save,
)
from mercato.modules.cart.repository import lock as lock_cart

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def new_cart_id() -> uuid.UUID:
    """128 random bits (not a UUIDv4's 122, not a time-ordered id): the id is the guest's key."""
    return uuid.UUID(bytes=secrets.token_bytes(16))


def actor_of(customer_id: uuid.UUID | None) -> str:
    return f"customer:{customer_id}" if customer_id else "guest"


def check_access(state: CartState | None, customer_id: uuid.UUID | None, now: datetime) -> CartState:
    """The cart if the caller may see it (see the module doc), else 404."""
    if state is None or (state.customer_id is not None and state.customer_id != customer_id):
        raise CartNotFound()
    if state.expires_at <= now:
        raise CartNotFound()
    return state


class NeedsSession(Exception):
    """A change begun on a bare connection (the add-to-cart fast path) needs what only a session
    does — a guest cart to attach to the signed-in customer, a stock hold to give back. Raised
    before anything is written; the caller rolls back and lets the route make the change."""


class CartChanged(Exception):
    """An optimistic change (`optimistic=True`) found the cart changed by someone else between its
    read and its write; nothing was written. Try again."""


async def _locked(session: Executor, cart_id: str, customer_id: uuid.UUID | None, now: datetime,
                  extra: list[uuid.UUID] | None = None, *, lock: bool = True,
                  loaded: CartState | None = None) -> CartState:
    """The cart to change: locked (FOR UPDATE), or with `lock=False` only read, for a change
    written optimistically (see `_finish`). `loaded`: read already (unlocked) by the caller."""
    parsed = parse_id(cart_id)
    if parsed is None:
        raise CartNotFound()
    if loaded is not None:
        if lock or loaded.id != parsed:
            raise ValueError("a cart read beforehand is only for an optimistic change of that cart")
        state = check_access(loaded, customer_id, now)
    else:
        if lock:
            await lock_cart(session, parsed)
        state = check_access(await load(session, parsed, now=now, extra=extra or [],
                                        for_guest=customer_id is None), customer_id, now)
    if state.status != "active":
        raise CartCompleted()
    if state.customer_id is None and customer_id is not None:
        if not isinstance(session, AsyncSession):
            raise NeedsSession()
        state.customer_id = await attach_if_free(session, state.id, customer_id, state.channel_id)
    return state


async def _finish(session: Executor, state: CartState, proposed: list[Proposed], *, now: datetime,
                  written: set[str] | None = None, deleted: list[uuid.UUID] | None = None,
                  strict_shipping: bool = False, skip_unpriced: bool = False,
                  optimistic: bool = False) -> dict[str, Any]:
    """Price the cart as changed, write it, and render it. `written`: keys of lines to upsert (their
    unit price is stored as priced now); `deleted`: ids of lines to delete. A change of lines gives
    back any stock a checkout reserved for the cart. A written line that has no price in the channel
    → 409 before anything is written (`skip_unpriced`: it is left out instead, for merges).
    `optimistic`: the cart was read unlocked; it is written only if unchanged since (else
    CartChanged, nothing written) — one statement, so it needs no transaction around it."""
    priced = await price(session, state, proposed, now=now, requote=True, strict_shipping=strict_shipping)
    unpriced = {key for key in written or () if key not in priced.lines}
    if unpriced:
        if not skip_unpriced:
            raise VariantUnavailable()  # nothing was written yet
        written = (written or set()) - unpriced
        proposed = [p for p in proposed if p.key not in unpriced or p.item.line_id is not None]
        priced = await price(session, state, proposed, now=now, requote=True)
    if priced.shipping_dropped:
        state.shipping_option_id = None
    state.shipping_quote = priced.quote
    state.expires_at = rules.expires_at(now, customer=state.customer_id is not None)
    lines_changed = bool(written) or bool(deleted)
    if lines_changed and state.reserved:
        if not isinstance(session, AsyncSession):
            raise NeedsSession()
        await inventory.release(session, f"cart:{state.id}", actor=actor_of(state.customer_id))
        state.reserved = False
    keys = written or set()
    upserts = [(p.item, LineWrite(uuid.UUID(p.key), p.item.variant_id, p.quantity, priced.lines[p.key].unit_price))
               for p in proposed if p.key in keys]
    if not await save(session, state, now=now, upserts=[write for _, write in upserts], deletes=deleted or [],
                      optimistic=optimistic):
        raise CartChanged()
    for item, write in upserts:  # the state as saved (the cart is rendered from it)
        item.line_id, item.quantity, item.stored_price = write.id, write.quantity, write.unit_price
    return cart_json(state, priced)


# ---------------------------------------------------------------------------------------------
# carts


async def create_cart(session: AsyncSession, *, channel_code: str, currency: str | None,
                      customer_id: uuid.UUID | None) -> tuple[dict[str, Any], bool]:
    """A new cart in the channel, or the customer's active one there. Returns (cart, created)."""
    channel = await channels.channel_by_code(session, channel_code)
    if channel is None:
        raise UnknownChannel()
    if currency is not None and currency.upper() != channel.currency:
        raise CurrencyMismatch(channel.currency)
    now = utcnow()
    if customer_id is not None:
        existing = await active_cart_of(session, customer_id, channel.id, now)
        if existing is not None:
            return await get_cart(session, str(existing), customer_id=customer_id), False
    cart = Cart(id=new_cart_id(), channel_id=channel.id, currency=channel.currency, customer_id=customer_id,
                expires_at=rules.expires_at(now, customer=customer_id is not None), created_at=now, updated_at=now)
    if not await insert_cart(session, cart):  # a concurrent request created the customer's cart
        assert customer_id is not None
        existing = await active_cart_of(session, customer_id, channel.id, now)
        if existing is None:
            raise CartNotFound()
        return await get_cart(session, str(existing), customer_id=customer_id), False
    return await get_cart(session, str(cart.id), customer_id=customer_id), True


async def get_cart(session: AsyncSession, cart_id: str, *, customer_id: uuid.UUID | None) -> dict[str, Any]:
    """The cart priced now (reads show the shipping quote of the last change)."""
    parsed = parse_id(cart_id)
    if parsed is None:
        raise CartNotFound()
    now = utcnow()
    state = check_access(await load(session, parsed, now=now, for_guest=customer_id is None), customer_id, now)
    priced = await price(session, state, proposed_lines(state), now=now, requote=False)
    return cart_json(state, priced)


# ---------------------------------------------------------------------------------------------
# lines


def _check_line(item: Item, quantity: int, *, field: str = "quantity") -> None:
    errors = rules.quantity_errors(quantity, min_quantity=item.min_quantity, max_quantity=item.max_quantity,
                                   field=field)
    if errors:
        raise InvalidQuantity(errors)
    shortage = rules.stock_shortage(quantity, tracked=item.track_inventory, free=item.free, field=field)
    if shortage:
        raise InsufficientStock(shortage)


async def add_line(session: Executor, cart_id: str, *, customer_id: uuid.UUID | None, variant_id: str,
                   quantity: int, optimistic: bool = False,
                   loaded: tuple[CartState, datetime] | None = None) -> tuple[dict[str, Any], bool]:
    """Add `quantity` units of a variant (to its line when there is one). Returns (cart, created).
    `optimistic`: read the cart without locking it and write it only if unchanged (CartChanged
    otherwise) — for a bare connection without a transaction. `loaded`: the cart as the caller read
    it for this change (optimistic only; `repository.load` with the variant as `extra`), and when."""
    variant = parse_id(variant_id)
    now = loaded[1] if loaded is not None else utcnow()
    state = await _locked(session, cart_id, customer_id, now, extra=[variant] if variant else [], lock=not optimistic,
                          loaded=loaded[0] if loaded is not None else None)
    if quantity < 1:
        raise InvalidQuantity([FieldError("quantity", "too_small", "At least 1.")])
    if quantity > rules.HARD_MAX_QUANTITY:
        raise InvalidQuantity([FieldError("quantity", "too_large", f"At most {rules.HARD_MAX_QUANTITY} per item.")])
    item = state.item_for(variant) if variant is not None else None
    if item is None or not item.known:
        raise UnknownVariant()
    if not item.listed:
        raise VariantUnavailable()
    created = item.line_id is None
    if created and len(state.lines) >= rules.MAX_LINES:
        raise TooManyLines(rules.MAX_LINES)
    total = item.quantity + quantity
    _check_line(item, total)
    key = str(new_id()) if created else str(item.line_id)
    proposed = [Proposed(str(i.line_id), i, total if i.variant_id == item.variant_id else i.quantity)
                for i in state.lines]
    if created:
        proposed.append(Proposed(key, item, total))
    return await _finish(session, state, proposed, now=now, written={key}, optimistic=optimistic), created


def _line(state: CartState, line_id: str) -> Item:
    parsed = parse_id(line_id)
    for item in state.lines:
        if item.line_id == parsed:
            return item
    raise LineNotFound()


async def update_line(session: AsyncSession, cart_id: str, line_id: str, *, customer_id: uuid.UUID | None,
                      quantity: int) -> dict[str, Any]:
    now = utcnow()
    state = await _locked(session, cart_id, customer_id, now)
    item = _line(state, line_id)
    if not item.listed:
        raise VariantUnavailable()
    _check_line(item, quantity)
    key = str(item.line_id)
    proposed = [Proposed(str(i.line_id), i, quantity if i is item else i.quantity) for i in state.lines]
    return await _finish(session, state, proposed, now=now, written={key})


async def remove_line(session: AsyncSession, cart_id: str, line_id: str, *,
                      customer_id: uuid.UUID | None) -> dict[str, Any]:
    now = utcnow()
    state = await _locked(session, cart_id, customer_id, now)
    item = _line(state, line_id)
    assert item.line_id is not None
    proposed = [p for p in proposed_lines(state) if p.item is not item]
    return await _finish(session, state, proposed, now=now, deleted=[item.line_id])


# ---------------------------------------------------------------------------------------------
# buyer data, shipping


async def _address(value: Any, field: str, countries: tuple[str, ...] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidCart([FieldError(field, "invalid", "Expected an address object.")])
    address = await identity.validate_address_async(value, field_prefix=field)
    if countries is not None and address.country_code not in countries:
        raise CountryNotSold(f"{field}.country_code")
    return address.as_dict()


async def update_details(session: AsyncSession, cart_id: str, *, customer_id: uuid.UUID | None,
                         changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set the fields given (`email`, `shipping_address`, `billing_address`; null clears one).
    Addresses are checked per country (422 `address.invalid` naming `shipping_address.<field>`);
    the shipping country must be one the channel sells to (422 `cart.country_not_supported`)."""
    now = utcnow()
    state = await _locked(session, cart_id, customer_id, now)
    if "email" in changes:
        email = changes["email"]
        if email is not None:
            email = str(email).strip().lower()
            if len(email) > 320 or not _EMAIL.match(email):
                raise InvalidCart([FieldError("email", "invalid", "Not an email address.")])
        state.email = email
    if "shipping_address" in changes:
        state.shipping_address = await _address(changes["shipping_address"], "shipping_address", state.countries)
    if "billing_address" in changes:
        state.billing_address = await _address(changes["billing_address"], "billing_address", None)
    return await _finish(session, state, proposed_lines(state), now=now)


async def shipping_options(session: AsyncSession, cart_id: str, *,
                           customer_id: uuid.UUID | None) -> list[dict[str, Any]]:
    """What the cart may choose for its shipping address (422 without one), cheapest first."""
    parsed = parse_id(cart_id)
    if parsed is None:
        raise CartNotFound()
    now = utcnow()
    state = check_access(await load(session, parsed, now=now, for_guest=customer_id is None), customer_id, now)
    address = state.shipping_address
    if address is None:
        raise ShippingAddressRequired()
    priced = await price(session, state, proposed_lines(state), now=now, requote=False)
    options = await shipping.shipping_options(
        session, channel_id=state.channel_id, currency=state.currency, country=address["country_code"],
        region=address.get("region"), postal_code=address.get("postal_code"),
        subtotal=priced.promo_cart.subtotal - priced.promo.discount_total, weight_grams=priced.weight_grams)
    return [{"id": o.id, "name": o.name, "price": money(o.price, state.currency), "min_days": o.min_days,
             "max_days": o.max_days} for o in options]


async def choose_shipping(session: AsyncSession, cart_id: str, *, customer_id: uuid.UUID | None,
                          option_id: str) -> dict[str, Any]:
    """Choose an option; one that does not apply to the address and cart → 422
    `shipping.option_unavailable` (the cart keeps its previous choice)."""
    now = utcnow()
    state = await _locked(session, cart_id, customer_id, now)
    if state.shipping_address is None:
        raise ShippingAddressRequired()
    if not state.lines:
        raise shipping.ShippingOptionUnavailable()
    state.shipping_option_id = option_id
    return await _finish(session, state, proposed_lines(state), now=now, strict_shipping=True)


# ---------------------------------------------------------------------------------------------
# coupons


@dataclass(frozen=True)
class CouponGuard:
    limiter: RateLimiter
    client_key: str
    rule: str


async def add_coupon(session: AsyncSession, cart_id: str, *, customer_id: uuid.UUID | None, code: str,
                     guard: CouponGuard) -> dict[str, Any]:
    """Apply a coupon code: one that does not apply → 422 with the reason as code (promotion.not_found,
    .expired, .not_eligible, .minimum_not_met ...); too many failed codes per client → 429."""
    now = utcnow()
    state = await _locked(session, cart_id, customer_id, now)
    normalized = promotions.normalize_code(code)
    if normalized is not None and normalized in state.coupons:
        return await _finish(session, state, proposed_lines(state), now=now)
    if len(state.coupons) >= rules.MAX_COUPONS:
        raise TooManyCoupons(rules.MAX_COUPONS)
    proposed = proposed_lines(state)
    priced: PricedCart = await price(session, state, proposed, now=now, requote=False)
    await promotions.check_code_guarded(
        session, guard.limiter, code, client_key=guard.client_key, rule=guard.rule, cart=priced.promo_cart, now=now,
        codes=promotions.normalized_codes(state.coupons))
    assert normalized is not None  # check_code refuses what cannot be a code
    state.coupons = [*state.coupons, normalized]
    return await _finish(session, state, proposed, now=now)


async def remove_coupon(session: AsyncSession, cart_id: str, code: str, *,
                        customer_id: uuid.UUID | None) -> dict[str, Any]:
    now = utcnow()
    state = await _locked(session, cart_id, customer_id, now)
    normalized = promotions.normalize_code(code) or code
    if normalized not in state.coupons:
        raise CouponNotOnCart()
    state.coupons = [c for c in state.coupons if c != normalized]
    return await _finish(session, state, proposed_lines(state), now=now)


# ---------------------------------------------------------------------------------------------
# guest → customer


async def merge(session: AsyncSession, cart_id: str, *, customer_id: uuid.UUID) -> dict[str, Any]:
    """After sign-in: the guest cart `cart_id` joins the customer's active cart in its channel —
    quantities added and capped at each variant's maximum and the hard limit, coupons united (at most
    MAX_COUPONS), email and addresses taken where the customer's cart has none — and is deleted.
    Without an active cart there, the guest cart becomes the customer's. Merging the customer's own
    cart changes nothing. Returns the resulting cart."""
    parsed = parse_id(cart_id)
    if parsed is None:
        raise CartNotFound()
    now = utcnow()
    guest = await _locked(session, cart_id, customer_id, now)
    if guest.customer_id == customer_id:
        return await _finish(session, guest, proposed_lines(guest), now=now)
    target_id = await active_cart_of(session, customer_id, guest.channel_id, now)
    if target_id is None:
        if guest.reserved:  # the hold was the guest's checkout attempt; the customer starts afresh
            await inventory.release(session, f"cart:{guest.id}", actor=actor_of(customer_id))
            guest.reserved = False
        guest.customer_id = customer_id
        return await _finish(session, guest, proposed_lines(guest), now=now)
    target = await _locked(session, str(target_id), customer_id, now,
                           extra=[item.variant_id for item in guest.lines])
    if guest.currency != target.currency:
        raise NotYourGuestCart("The carts are in different currencies.")
    held = {item.variant_id: item for item in target.lines}
    written: set[str] = set()
    proposed = proposed_lines(target)
    by_variant = {p.item.variant_id: i for i, p in enumerate(proposed)}
    for item in guest.lines:
        mine = held.get(item.variant_id) or target.item_for(item.variant_id)
        if mine is None or not mine.known:
            continue
        if item.variant_id in by_variant:
            at = by_variant[item.variant_id]
            current = proposed[at]
            quantity = rules.merged_quantity(current.quantity, item.quantity, min_quantity=mine.min_quantity,
                                             max_quantity=mine.max_quantity)
            proposed[at] = replace(current, quantity=quantity)
            written.add(current.key)
        elif len(proposed) < rules.MAX_LINES and mine.listed:
            key = str(new_id())
            quantity = rules.merged_quantity(0, item.quantity, min_quantity=mine.min_quantity,
                                             max_quantity=mine.max_quantity)
            proposed.append(Proposed(key, mine, quantity))
            by_variant[item.variant_id] = len(proposed) - 1
            written.add(key)
    target.coupons = rules.merge_coupons(target.coupons, guest.coupons)
    target.email = target.email or guest.email
    target.shipping_address = target.shipping_address or guest.shipping_address
    target.billing_address = target.billing_address or guest.billing_address
    if target.shipping_option_id is None and target.shipping_address == guest.shipping_address:
        target.shipping_option_id = guest.shipping_option_id
    if guest.reserved:
        await inventory.release(session, f"cart:{guest.id}", actor=actor_of(customer_id))
    await session.execute(text("DELETE FROM carts WHERE id = :id"), {"id": guest.id})
    # Lines no longer for sale here are not carried over.
    return await _finish(session, target, proposed, now=now, written=written, skip_unpriced=True)
