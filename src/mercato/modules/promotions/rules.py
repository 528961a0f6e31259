"""The promotions engine: which promotions apply to a cart and what each one takes off. Pure: no I/O.

`evaluate(cart, promotions, codes=..., now=...)` answers with a `PromoResult`: a discount per line
(each with its source), the order-level discounts, free shipping, the promotions applied and, per
coupon code the cart carries, why it does not apply when it does not.

Candidates. Every automatic promotion given, and every coupon promotion one of whose codes the
cart carries (a second code of the same promotion is refused as `promotion.duplicate`; a code no
promotion owns is `promotion.not_found`).

Order (stacking). Candidates are considered by (priority descending, id ascending) — ids are
time-ordered, so between equal priorities the older promotion goes first. Neither the order of
the lines nor the order of the promotions given changes the result.
  * each discount applies to what is left of the lines after the earlier ones ("remaining");
  * an exclusive promotion applies only when nothing applied before it, and when it applies
    nothing after it does (a higher-priority promotion that already applied wins over a later
    exclusive one: the exclusive one is skipped as `promotion.not_combinable`);
  * at most one non-stackable promotion applies (the first one); stackable ones combine freely;
  * a candidate that grants nothing (nothing left to discount, bundle incomplete ...) does not
    count as applied and so blocks nothing.

Eligibility is checked on the cart as given (before any discount): window (starts_at <= now <
ends_at), channel (none listed: every channel), currency (a promotion holding amounts applies only
to carts in its currency), customer groups (none: everyone), first order only, per-customer limit
(needs a signed-in customer), total usage limit, budget, code uses; then the lines it targets and
the minimum quantity and subtotal *of those lines* (the whole cart when it targets everything).

Targets. Includes (products, categories with all their descendants, collections, brands) are
OR-ed — a line is targeted when it matches any of them, or when there are none; an exclusion of
any kind always wins.

Benefits (what is left of a line = its remaining amount):
  percentage      rate_ppm of the targeted lines' remaining total (rounded half up), allocated to
                  them pro rata;
  fixed_amount    per "unit" (amount × quantity per line), per "line", or per "order" (allocated
                  pro rata over the targeted lines); never more than what is left;
  fixed_price     targeted units cost `amount` each: a line loses what it has above amount × qty;
  buy_x_get_y     per (buy + get) targeted units, the `get` cheapest units of all targeted units
                  get rate_ppm off (1 000 000: free), at most max_applications times;
  tiered          the highest tier whose threshold the targeted subtotal reaches: its amount off,
                  allocated pro rata (an order-level discount);
  bundle          per complete set of the listed products (with their quantities, most valuable
                  units first) the set costs `price`: the difference is allocated over its units;
  free_shipping   the shipping amount (not subject to the maximum discounts below; it counts
                  towards the budget and applies only when the budget left covers it).

Allocation. An amount spread over lines goes pro rata to their remaining amounts by the largest
remainder method (ties to the smaller line key): the shares add up exactly, and no share exceeds
its line's remaining amount. Order-level discounts appear once in `order_adjustments` and as their
shares in `line_adjustments`, so each line's discount is explained and tax can be taken per line.

Caps, in this order, each one trimming a promotion's shares pro rata (largest remainder):
  1. what it discounts: a share never exceeds its line's remaining amount (no negative line);
  2. the promotion's own maximum per order: max_discount_amount and max_discount_ppm of the cart
     subtotal (rounded down);
  3. the budget left (budget − spent);
  4. the maximum total discount of the whole cart (`max_total_discount`), on line discounts.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from random import Random
from typing import Literal

PPM = 1_000_000

# Codes: upper-case letters, digits, '-' and '_'; compared after trimming and upper-casing.
CODE_MAX_LENGTH = 64
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
# Generated codes leave out characters people confuse when reading or typing: 0/O, 1/I/L.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

Trigger = Literal["automatic", "coupon"]
Level = Literal["line", "order", "shipping"]

# Reasons a coupon code does not apply (stable API: the cart shows them, the coupon endpoint
# answers 422 with them).
NOT_FOUND = "promotion.not_found"
INACTIVE = "promotion.inactive"
NOT_STARTED = "promotion.not_started"
EXPIRED = "promotion.expired"
NOT_ELIGIBLE = "promotion.not_eligible"
MINIMUM_NOT_MET = "promotion.minimum_not_met"
USAGE_LIMIT_REACHED = "promotion.usage_limit_reached"
ALREADY_USED = "promotion.already_used"
NOT_COMBINABLE = "promotion.not_combinable"
DUPLICATE = "promotion.duplicate"
REASONS = (NOT_FOUND, INACTIVE, NOT_STARTED, EXPIRED, NOT_ELIGIBLE, MINIMUM_NOT_MET, USAGE_LIMIT_REACHED,
           ALREADY_USED, NOT_COMBINABLE, DUPLICATE)


# ---------------------------------------------------------------------------------------------
# benefits


@dataclass(frozen=True)
class Percentage:
    rate_ppm: int
    kind: Literal["percentage"] = "percentage"


@dataclass(frozen=True)
class FixedAmount:
    amount: int
    per: Literal["unit", "line", "order"] = "order"
    kind: Literal["fixed_amount"] = "fixed_amount"


@dataclass(frozen=True)
class FixedPrice:
    amount: int  # the unit price targeted units get
    kind: Literal["fixed_price"] = "fixed_price"


@dataclass(frozen=True)
class BuyXGetY:
    buy: int
    get: int
    rate_ppm: int = PPM  # off the `get` units: PPM is "free"
    max_applications: int | None = None
    kind: Literal["buy_x_get_y"] = "buy_x_get_y"


@dataclass(frozen=True)
class Tier:
    threshold: int
    amount: int


@dataclass(frozen=True)
class Tiered:
    tiers: tuple[Tier, ...]
    kind: Literal["tiered"] = "tiered"


@dataclass(frozen=True)
class FreeShipping:
    kind: Literal["free_shipping"] = "free_shipping"


@dataclass(frozen=True)
class BundleItem:
    product_id: uuid.UUID
    quantity: int = 1


@dataclass(frozen=True)
class Bundle:
    items: tuple[BundleItem, ...]
    price: int  # of one complete set
    kind: Literal["bundle"] = "bundle"


Benefit = Percentage | FixedAmount | FixedPrice | BuyXGetY | Tiered | FreeShipping | Bundle


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True, kw_only=True)
class PromoLine:
    """A cart line as the engine sees it. `unit_price` is after price lists and quantity tiers."""

    key: str
    variant_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int
    unit_price: int
    subtotal: int
    category_path: str | None = None  # the product's category, materialised path "<root>/.../<id>"
    collection_ids: frozenset[uuid.UUID] = frozenset()
    brand_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"line {self.key!r}: quantity must be at least 1")
        if self.unit_price < 0:
            raise ValueError(f"line {self.key!r}: unit_price must not be negative")
        if self.subtotal != self.unit_price * self.quantity:
            raise ValueError(f"line {self.key!r}: subtotal must be unit_price × quantity")


@dataclass(frozen=True, kw_only=True)
class PromoCart:
    lines: tuple[PromoLine, ...]
    subtotal: int
    currency: str
    channel_id: uuid.UUID
    customer_id: uuid.UUID | None = None
    customer_group_ids: frozenset[uuid.UUID] = frozenset()
    is_first_order: bool = False
    shipping_amount: int = 0

    def __post_init__(self) -> None:
        keys = [line.key for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError("line keys must be unique")
        if self.subtotal != sum(line.subtotal for line in self.lines):
            raise ValueError("subtotal must be the sum of the line subtotals")
        if self.shipping_amount < 0:
            raise ValueError("shipping_amount must not be negative")

    @classmethod
    def of(cls, lines: Iterable[PromoLine], *, currency: str, channel_id: uuid.UUID,
           customer_id: uuid.UUID | None = None, customer_group_ids: frozenset[uuid.UUID] = frozenset(),
           is_first_order: bool = False, shipping_amount: int = 0) -> PromoCart:
        """A cart whose subtotal is the sum of its lines'."""
        listed = tuple(lines)
        return cls(lines=listed, subtotal=sum(line.subtotal for line in listed), currency=currency,
                   channel_id=channel_id, customer_id=customer_id, customer_group_ids=customer_group_ids,
                   is_first_order=is_first_order, shipping_amount=shipping_amount)


@dataclass(frozen=True, kw_only=True)
class Targets:
    """Which lines a promotion is about. Category paths are materialised paths: a line in a
    descendant category matches. (The loader gives an unresolvable category a path that matches
    nothing, so a deleted category never widens a promotion to the whole cart.)"""

    product_ids: frozenset[uuid.UUID] = frozenset()
    category_paths: frozenset[str] = frozenset()
    collection_ids: frozenset[uuid.UUID] = frozenset()
    brand_ids: frozenset[uuid.UUID] = frozenset()
    excluded_product_ids: frozenset[uuid.UUID] = frozenset()
    excluded_category_paths: frozenset[str] = frozenset()
    excluded_collection_ids: frozenset[uuid.UUID] = frozenset()
    excluded_brand_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def restricted(self) -> bool:
        return bool(self.product_ids or self.category_paths or self.collection_ids or self.brand_ids)

    def matches(self, line: PromoLine) -> bool:
        if _hits(line, self.excluded_product_ids, self.excluded_category_paths, self.excluded_collection_ids,
                 self.excluded_brand_ids):
            return False
        return not self.restricted or _hits(line, self.product_ids, self.category_paths, self.collection_ids,
                                            self.brand_ids)


def _in_category(path: str | None, ancestors: frozenset[str]) -> bool:
    return path is not None and any(path == a or path.startswith(a + "/") for a in ancestors)


def _hits(line: PromoLine, products: frozenset[uuid.UUID], paths: frozenset[str],
          collections: frozenset[uuid.UUID], brands: frozenset[uuid.UUID]) -> bool:
    return (line.product_id in products or _in_category(line.category_path, paths)
            or not collections.isdisjoint(line.collection_ids)
            or (line.brand_id is not None and line.brand_id in brands))


@dataclass(frozen=True)
class CodeState:
    """One code of a coupon promotion, as loaded for the codes a cart carries."""

    code: str
    max_uses: int | None = None
    uses: int = 0

    @property
    def used_up(self) -> bool:
        return self.max_uses is not None and self.uses >= self.max_uses


@dataclass(frozen=True, kw_only=True)
class Promotion:
    """A promotion as the engine needs it (the service loads it; usage figures may be slightly
    stale — `redeem` enforces them exactly when the order is placed)."""

    id: uuid.UUID
    name: str
    benefit: Benefit
    trigger: Trigger = "automatic"
    codes: Mapping[str, CodeState] = field(default_factory=dict)
    currency: str | None = None
    priority: int = 0
    exclusive: bool = False
    stackable: bool = True
    is_active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    channel_ids: frozenset[uuid.UUID] = frozenset()
    targets: Targets = Targets()
    min_subtotal: int | None = None
    min_quantity: int | None = None
    customer_group_ids: frozenset[uuid.UUID] = frozenset()
    first_order_only: bool = False
    per_customer_limit: int | None = None
    customer_uses: int = 0  # this cart's customer's redemptions so far
    usage_limit: int | None = None
    uses: int = 0
    budget: int | None = None
    spent: int = 0
    max_discount_amount: int | None = None
    max_discount_ppm: int | None = None


@dataclass(frozen=True)
class DiscountCap:
    """The most all promotions together may take off a cart's lines: an amount, a share of the
    subtotal (ppm), or the smaller of both."""

    amount: int | None = None
    rate_ppm: int | None = None


# ---------------------------------------------------------------------------------------------
# outputs


@dataclass(frozen=True)
class Adjustment:
    """One discount and its source. `amount` is positive (what is taken off). Level "order": an
    order-level discount, or on a line that line's share of it."""

    promotion_id: uuid.UUID
    code: str | None
    label: str
    amount: int
    kind: str
    level: Level


@dataclass(frozen=True)
class Applied:
    """A promotion that applied, with everything it granted (lines and shipping): what `redeem`
    counts against its limits and budget."""

    promotion_id: uuid.UUID
    code: str | None
    label: str
    kind: str
    amount: int
    # What `redeem` must count on shared rows: the promotion's own (it has a usage limit or a
    # budget) and the code's (it has a maximum number of uses). Unlimited ones are tallied from the
    # redemptions instead, so orders do not queue on their rows.
    limited: bool = True
    code_limited: bool = True
    per_customer_limit: int | None = None
    # For a customer's first order only: `redeem` makes sure no other order of theirs came first.
    first_order_only: bool = False


@dataclass(frozen=True)
class Rejection:
    code: str
    reason: str
    message: str
    promotion_id: uuid.UUID | None = None


@dataclass(frozen=True)
class PromoResult:
    currency: str
    line_adjustments: Mapping[str, tuple[Adjustment, ...]]
    order_adjustments: tuple[Adjustment, ...]
    shipping_adjustments: tuple[Adjustment, ...]
    free_shipping: bool
    shipping_discount: int
    applied: tuple[Applied, ...]
    rejections: Mapping[str, Rejection]

    @property
    def applied_promotion_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(a.promotion_id for a in self.applied)

    @property
    def applied_codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.applied if a.code is not None)

    def line_discount(self, key: str) -> int:
        return sum(a.amount for a in self.line_adjustments.get(key, ()))

    @property
    def discount_total(self) -> int:
        """Everything taken off the lines (order-level discounts included, shipping not)."""
        return sum(a.amount for adjustments in self.line_adjustments.values() for a in adjustments)


# ---------------------------------------------------------------------------------------------
# arithmetic


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` pro rata to `weights` by the largest remainder method, ties to the earlier
    weight: the shares add up to `total`, and none exceeds its weight when total <= sum(weights)."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must not be negative")
    whole = sum(weights)
    if total > whole:
        raise ValueError("cannot allocate more than the weights hold")
    if total == 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


def percent_of(amount: int, rate_ppm: int) -> int:
    """rate_ppm of amount, rounded half up (never more than amount for rate_ppm <= PPM)."""
    return (amount * rate_ppm + PPM // 2) // PPM


def normalize_code(raw: str) -> str | None:
    """The canonical form of a code a shopper typed, or None when it cannot be a code."""
    code = raw.strip().upper()
    if not code or len(code) > CODE_MAX_LENGTH or not _CODE.match(code):
        return None
    return code


def _random_characters(count: int, pick: Random) -> str:
    """`count` characters of ALPHABET, uniformly: bytes at or above the largest multiple of the
    alphabet's size are dropped so that no character is likelier than another."""
    size = len(ALPHABET)
    usable = 256 - 256 % size
    drawn: list[str] = []
    while len(drawn) < count:
        drawn.extend(ALPHABET[b % size] for b in pick.randbytes(count - len(drawn) + 16) if b < usable)
    return "".join(drawn[:count])


def generate_codes(count: int, *, prefix: str = "", length: int = 10, rng: Random | None = None) -> list[str]:
    """`count` distinct random codes `prefix` + `length` characters of ALPHABET (cryptographic
    randomness unless `rng` is given, for tests)."""
    pick = rng or secrets.SystemRandom()
    made: dict[str, None] = {}
    while len(made) < count:
        drawn = _random_characters((count - len(made)) * length, pick)
        for i in range(0, len(drawn), length):
            made.setdefault(prefix + drawn[i:i + length])
    return list(made)


# ---------------------------------------------------------------------------------------------
# the engine


@dataclass
class _State:
    cart: PromoCart
    remaining: dict[str, int]
    line_adjustments: dict[str, list[Adjustment]]
    order_adjustments: list[Adjustment] = field(default_factory=list)
    shipping_adjustments: list[Adjustment] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    rejections: dict[str, Rejection] = field(default_factory=dict)
    granted: int = 0  # line discounts so far (for the cart-wide cap)
    free_shipping: bool = False
    shipping_discount: int = 0
    exclusive_applied: bool = False
    non_stackable_applied: bool = False


@dataclass(frozen=True)
class _Outcome:
    """What a benefit would take off each line (keys in line-key order), or why nothing."""

    shares: dict[str, int]
    level: Level
    reason: str = NOT_ELIGIBLE
    message: str = "Nothing left in the cart for this promotion to discount."


def evaluate(
    cart: PromoCart,
    promotions: Sequence[Promotion],
    *,
    codes: frozenset[str],
    now: datetime,
    max_total_discount: DiscountCap | None = None,
) -> PromoResult:
    """Apply `promotions` to `cart` (see the module documentation for the semantics)."""
    state = _State(cart, {line.key: line.subtotal for line in cart.lines}, {line.key: [] for line in cart.lines})
    for promotion, code in _candidates(promotions, codes, state):
        refusal = _ineligible(promotion, code, cart, now) or _not_combinable(promotion, state)
        if refusal is not None:
            _reject(state, code, promotion, *refusal)
            continue
        if isinstance(promotion.benefit, FreeShipping):
            _apply_free_shipping(state, promotion, code)
            continue
        outcome = _compute(promotion, state)
        shares, capped_by_cart = _capped(outcome.shares, promotion, state, max_total_discount)
        if sum(shares.values()) == 0:
            if capped_by_cart:
                _reject(state, code, promotion, NOT_COMBINABLE, "The cart already has the maximum total discount.")
            else:
                _reject(state, code, promotion, outcome.reason, outcome.message)
            continue
        _grant(state, promotion, code, shares, outcome.level)
    return PromoResult(
        currency=cart.currency,
        line_adjustments={key: tuple(adjustments) for key, adjustments in state.line_adjustments.items()},
        order_adjustments=tuple(state.order_adjustments),
        shipping_adjustments=tuple(state.shipping_adjustments),
        free_shipping=state.free_shipping,
        shipping_discount=state.shipping_discount,
        applied=tuple(state.applied),
        rejections=dict(sorted(state.rejections.items())),
    )


def _candidates(
    promotions: Sequence[Promotion], codes: frozenset[str], state: _State
) -> list[tuple[Promotion, str | None]]:
    unique: dict[uuid.UUID, Promotion] = {}
    for promotion in promotions:
        unique.setdefault(promotion.id, promotion)
    owners: dict[str, Promotion] = {}
    for promotion in sorted(unique.values(), key=lambda p: p.id, reverse=True):
        if promotion.trigger == "coupon":
            for owned in promotion.codes:
                owners[owned] = promotion  # a code belongs to one promotion (else: the lowest id)
    chosen: dict[uuid.UUID, str] = {}
    # Canonical forms, in order (a code typed twice in different cases is one code).
    for code in sorted({normalize_code(raw) or raw for raw in codes}):
        owner = owners.get(code)
        if owner is None:
            state.rejections[code] = Rejection(code, NOT_FOUND, "No promotion has this code.")
        elif owner.id in chosen:
            state.rejections[code] = Rejection(code, DUPLICATE, "Another code of this promotion is already applied.",
                                               owner.id)
        else:
            chosen[owner.id] = code
    candidates: list[tuple[Promotion, str | None]] = [
        (p, None) for p in unique.values() if p.trigger == "automatic"
    ] + [(unique[pid], code) for pid, code in chosen.items()]
    return sorted(candidates, key=lambda c: (-c[0].priority, c[0].id))


def _reject(state: _State, code: str | None, promotion: Promotion, reason: str, message: str) -> None:
    if code is not None:
        state.rejections[code] = Rejection(code, reason, message, promotion.id)


def _targeted(promotion: Promotion, cart: PromoCart) -> list[PromoLine]:
    return sorted((line for line in cart.lines if promotion.targets.matches(line)), key=lambda line: line.key)


def _ineligible(promotion: Promotion, code: str | None, cart: PromoCart, now: datetime) -> tuple[str, str] | None:
    """Why the promotion cannot apply to the cart as it is, or None."""
    if not promotion.is_active:
        return INACTIVE, "This promotion is not active."
    if promotion.starts_at is not None and now < promotion.starts_at:
        return NOT_STARTED, "This promotion has not started yet."
    if promotion.ends_at is not None and now >= promotion.ends_at:
        return EXPIRED, "This promotion has ended."
    if promotion.channel_ids and cart.channel_id not in promotion.channel_ids:
        return NOT_ELIGIBLE, "This promotion is not available in this shop."
    if promotion.currency is not None and promotion.currency != cart.currency:
        return NOT_ELIGIBLE, f"This promotion applies to carts in {promotion.currency} only."
    if promotion.customer_group_ids and promotion.customer_group_ids.isdisjoint(cart.customer_group_ids):
        return NOT_ELIGIBLE, "This promotion is reserved for some customers."
    if promotion.first_order_only and not cart.is_first_order:
        return NOT_ELIGIBLE, "This promotion is for a first order only."
    if promotion.usage_limit is not None and promotion.uses >= promotion.usage_limit:
        return USAGE_LIMIT_REACHED, "This promotion has been used as often as it may be."
    if promotion.budget is not None and promotion.spent >= promotion.budget:
        return USAGE_LIMIT_REACHED, "This promotion's budget is spent."
    if code is not None:
        state = promotion.codes.get(code)
        if state is not None and state.used_up:
            return ALREADY_USED, "This code has already been used."
    if promotion.per_customer_limit is not None:
        if cart.customer_id is None:
            return NOT_ELIGIBLE, "Sign in to use this promotion."
        if promotion.customer_uses >= promotion.per_customer_limit:
            return ALREADY_USED, "You have already used this promotion."
    targeted = _targeted(promotion, cart)
    if not targeted:
        return NOT_ELIGIBLE, "No item in the cart qualifies for this promotion."
    if promotion.min_quantity is not None and sum(line.quantity for line in targeted) < promotion.min_quantity:
        return MINIMUM_NOT_MET, f"Add at least {promotion.min_quantity} qualifying items."
    if promotion.min_subtotal is not None and sum(line.subtotal for line in targeted) < promotion.min_subtotal:
        return MINIMUM_NOT_MET, "The qualifying items do not reach this promotion's minimum amount."
    return None


def _not_combinable(promotion: Promotion, state: _State) -> tuple[str, str] | None:
    if state.exclusive_applied:
        return NOT_COMBINABLE, "A promotion that cannot be combined with others already applies."
    if promotion.exclusive and state.applied:
        return NOT_COMBINABLE, "This promotion cannot be combined with the promotions already applied."
    if not promotion.stackable and state.non_stackable_applied:
        return NOT_COMBINABLE, "This promotion cannot be combined with a promotion already applied."
    return None


def _spread(total: int, lines: Sequence[PromoLine], state: _State) -> dict[str, int]:
    weights = [state.remaining[line.key] for line in lines]
    return dict(zip([line.key for line in lines], allocate(min(total, sum(weights)), weights), strict=True))


def _unit_value(state: _State, line: PromoLine, units: int) -> int:
    """What `units` of the line's units are still worth (its remaining amount, pro rata)."""
    return state.remaining[line.key] * units // line.quantity


def _compute(promotion: Promotion, state: _State) -> _Outcome:
    benefit = promotion.benefit
    lines = _targeted(promotion, state.cart)
    remaining = state.remaining
    match benefit:
        case Percentage(rate_ppm=rate):
            base = sum(remaining[line.key] for line in lines)
            return _Outcome(_spread(percent_of(base, rate), lines, state), "line")
        case FixedAmount(amount=amount, per="unit"):
            return _Outcome({line.key: min(amount * line.quantity, remaining[line.key]) for line in lines}, "line")
        case FixedAmount(amount=amount, per="line"):
            return _Outcome({line.key: min(amount, remaining[line.key]) for line in lines}, "line")
        case FixedAmount(amount=amount):
            return _Outcome(_spread(amount, lines, state), "order")
        case FixedPrice(amount=price):
            return _Outcome({line.key: max(0, remaining[line.key] - price * line.quantity) for line in lines}, "line",
                            message="The items already cost no more than this promotion's price.")
        case BuyXGetY():
            return _buy_x_get_y(benefit, lines, state)
        case Tiered(tiers=tiers):
            reached = sum(line.subtotal for line in lines)
            met = [tier for tier in tiers if tier.threshold <= reached]
            if not met:
                return _Outcome({}, "order", MINIMUM_NOT_MET, "The qualifying items do not reach the first tier.")
            best = max(met, key=lambda tier: tier.threshold)
            return _Outcome(_spread(best.amount, lines, state), "order")
        case Bundle():
            return _bundle(benefit, lines, state)
        case FreeShipping():  # handled by the caller
            return _Outcome({}, "shipping")


def _buy_x_get_y(benefit: BuyXGetY, lines: Sequence[PromoLine], state: _State) -> _Outcome:
    units = sum(line.quantity for line in lines)
    groups = units // (benefit.buy + benefit.get)
    if benefit.max_applications is not None:
        groups = min(groups, benefit.max_applications)
    if groups == 0:
        return _Outcome({}, "line", MINIMUM_NOT_MET,
                        f"Add {benefit.buy + benefit.get} qualifying items to get {benefit.get} at a discount.")
    # The discounted units are the cheapest ones (by what is left of them), ties to the smaller key.
    cheapest_first = sorted(lines, key=lambda line: (Fraction(state.remaining[line.key], line.quantity), line.key))
    left = groups * benefit.get
    shares: dict[str, int] = {}
    for line in cheapest_first:
        if left == 0:
            break
        taken = min(left, line.quantity)
        left -= taken
        shares[line.key] = state.remaining[line.key] * taken * benefit.rate_ppm // (line.quantity * PPM)
    return _Outcome(dict(sorted(shares.items())), "line")


def _bundle(benefit: Bundle, lines: Sequence[PromoLine], state: _State) -> _Outcome:
    of_product: dict[uuid.UUID, list[PromoLine]] = {}
    for line in lines:
        of_product.setdefault(line.product_id, []).append(line)
    sets = min(sum(line.quantity for line in of_product.get(item.product_id, [])) // item.quantity
               for item in benefit.items)
    if sets == 0:
        return _Outcome({}, "line", MINIMUM_NOT_MET, "The cart does not hold the whole bundle.")
    value: dict[str, int] = {}
    for item in benefit.items:
        left = sets * item.quantity
        # The most valuable units go into the bundle (the shopper's best deal), ties to the smaller key.
        for line in sorted(of_product[item.product_id],
                           key=lambda line: (-Fraction(state.remaining[line.key], line.quantity), line.key)):
            if left == 0:
                break
            taken = min(left, line.quantity)
            left -= taken
            value[line.key] = value.get(line.key, 0) + _unit_value(state, line, taken)
    keys = sorted(value)
    discount = max(0, sum(value.values()) - benefit.price * sets)
    weights = [value[key] for key in keys]
    return _Outcome(dict(zip(keys, allocate(min(discount, sum(weights)), weights), strict=True)), "line",
                    message="The items already cost no more than the bundle price.")


def _capped(
    shares: dict[str, int], promotion: Promotion, state: _State, cart_cap: DiscountCap | None
) -> tuple[dict[str, int], bool]:
    """The shares trimmed to the promotion's caps and the cart's; True when the cart's cap is
    what left nothing."""
    limits: list[int] = []
    if promotion.max_discount_amount is not None:
        limits.append(promotion.max_discount_amount)
    if promotion.max_discount_ppm is not None:
        limits.append(state.cart.subtotal * promotion.max_discount_ppm // PPM)
    if promotion.budget is not None:
        limits.append(max(0, promotion.budget - promotion.spent))
    own = min(limits) if limits else None
    cart_left = None
    if cart_cap is not None:
        cart_limits = [cap for cap in (
            cart_cap.amount,
            state.cart.subtotal * cart_cap.rate_ppm // PPM if cart_cap.rate_ppm is not None else None,
        ) if cap is not None]
        if cart_limits:
            cart_left = max(0, min(cart_limits) - state.granted)
    total = sum(shares.values())
    limit = min(x for x in (total, own, cart_left) if x is not None)
    if limit == total:
        return shares, False
    keys = list(shares)
    trimmed = dict(zip(keys, allocate(limit, [shares[k] for k in keys]), strict=True))
    return trimmed, limit == 0 and cart_left == 0 and (own is None or own > 0)


def _grant(state: _State, promotion: Promotion, code: str | None, shares: Mapping[str, int], level: Level) -> None:
    kind = promotion.benefit.kind
    total = 0
    for key, amount in shares.items():
        if amount <= 0:
            continue
        state.remaining[key] -= amount
        state.line_adjustments[key].append(Adjustment(promotion.id, code, promotion.name, amount, kind, level))
        total += amount
    if level == "order":
        state.order_adjustments.append(Adjustment(promotion.id, code, promotion.name, total, kind, "order"))
    state.granted += total
    _applied(state, promotion, code, total)


def _apply_free_shipping(state: _State, promotion: Promotion, code: str | None) -> None:
    if state.free_shipping:
        _reject(state, code, promotion, NOT_ELIGIBLE, "Shipping is already free.")
        return
    amount = state.cart.shipping_amount
    if promotion.budget is not None and promotion.budget - promotion.spent < amount:
        _reject(state, code, promotion, USAGE_LIMIT_REACHED, "This promotion's budget is spent.")
        return
    state.free_shipping = True
    state.shipping_discount = amount
    state.shipping_adjustments.append(Adjustment(promotion.id, code, promotion.name, amount, "free_shipping",
                                                 "shipping"))
    _applied(state, promotion, code, amount)


def _applied(state: _State, promotion: Promotion, code: str | None, amount: int) -> None:
    code_state = promotion.codes.get(code) if code is not None else None
    state.applied.append(Applied(
        promotion.id, code, promotion.name, promotion.benefit.kind, amount,
        limited=promotion.usage_limit is not None or promotion.budget is not None,
        code_limited=code_state is None or code_state.max_uses is not None,
        per_customer_limit=promotion.per_customer_limit, first_order_only=promotion.first_order_only))
    if promotion.exclusive:
        state.exclusive_applied = True
    if not promotion.stackable:
        state.non_stackable_applied = True
