"""Shipping rates, pure: which zone an address falls in, what a method costs for a cart, and whether
it ships from the cart's warehouses. No I/O; the service loads rows and asks these functions.

Zones. A zone is a list of areas; an area is a country, optionally narrowed to one region (the
country's subdivision code as addresses carry it: "CA" for California, "US-CA" is read the same) or
to postcodes (a prefix such as "BT" or "HS", or a range such as 01000-99999). Postcodes are compared
normalised: upper case, letters and digits only ("sw1a 2aa" -> "SW1A2AA", "94105-1234" ->
"941051234"). A range [from, to] (both of one length n) matches a postcode whose first n characters
lie between them, compared as text, which for digits of equal length is numeric order.

Exactly one zone answers an address: the one with the most specific matching area (a postcode area
beats a region, a region beats the whole country; between postcode areas the longer prefix or the
longer range bounds win), then the zone with the higher `priority`, then the lower code. So a
"GB remote" zone of prefixes BT, HS, ZE overrides the "GB" zone for Belfast and the Hebrides and
offers its own methods instead of the mainland ones; when the winning zone has no method for the
cart (too heavy, no price in the currency), the answer is no method, never a fallback to the
broader zone (that would ship to an island at the mainland price).

Methods. A method has a kind and, per currency, a rate (amounts in minor units):
  flat          `amount` whatever the cart.
  free_over     `amount`, or 0 when the subtotal is at least `free_over` (at and above the threshold).
  weight_tiers  tiers (max_grams, amount) with strictly increasing max_grams: the first tier whose
                max_grams is at least the cart's weight applies; above the last tier the method is
                not available (None).
  price_tiers   tiers (min_subtotal, amount) with strictly increasing min_subtotal, the first at 0:
                the last tier whose min_subtotal is at most the cart's subtotal applies.
A currency without a rate: not available. Hence, for valid rates: a quote is never negative; with
weight-tier amounts that do not decrease, a heavier cart never pays less, and a cart that is
available stays available when it gets lighter; with price-tier amounts that do not increase, a
larger subtotal never pays more (that is how such tiers are meant, though not enforced).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["flat", "free_over", "weight_tiers", "price_tiers"]
KINDS: tuple[Kind, ...] = ("flat", "free_over", "weight_tiers", "price_tiers")

POSTCODE_MAX = 10
_POSTCODE_PART = re.compile(r"^[A-Z0-9]{1,10}$")


# ---------------------------------------------------------------------------------------------
# zones


@dataclass(frozen=True)
class Area:
    """One area of a zone: a country, or a region of it, or some of its postcodes (at most one narrowing)."""

    country: str
    region: str | None = None
    postal_prefix: str | None = None
    postal_from: str | None = None
    postal_to: str | None = None


@dataclass(frozen=True)
class ZoneCandidate:
    zone_id: uuid.UUID
    code: str
    priority: int
    areas: tuple[Area, ...]


def normalize_postcode(value: str | None) -> str:
    """Upper case, letters and digits only: how postcodes and postcode areas are compared."""
    return "".join(ch for ch in (value or "").upper() if ch.isascii() and ch.isalnum())


def normalize_region(country: str, region: str | None) -> str:
    """The region as the country's own subdivision code: "us-ca" and "CA" both give "CA"."""
    value = (region or "").strip().upper()
    return value.removeprefix(f"{country.upper()}-")


def area_match(area: Area, *, country: str, region: str | None, postal_code: str | None) -> tuple[int, int] | None:
    """How specifically `area` matches the address, higher is more specific; None when it does not."""
    if area.country != country.upper():
        return None
    if area.region is not None:
        return (2, 0) if normalize_region(country, region) == area.region else None
    if area.postal_prefix is not None:
        postcode = normalize_postcode(postal_code)
        return (3, len(area.postal_prefix)) if postcode.startswith(area.postal_prefix) else None
    if area.postal_from is not None and area.postal_to is not None:
        width = len(area.postal_from)
        head = normalize_postcode(postal_code)[:width]
        return (3, width) if len(head) == width and area.postal_from <= head <= area.postal_to else None
    return (1, 0)


def pick_zone(
    zones: Iterable[ZoneCandidate], *, country: str, region: str | None, postal_code: str | None
) -> ZoneCandidate | None:
    """The one zone that answers the address (see the module doc), or None."""
    best: tuple[tuple[int, int, int], ZoneCandidate] | None = None
    for zone in zones:
        matches = [m for a in zone.areas if (m := area_match(a, country=country, region=region,
                                                              postal_code=postal_code)) is not None]
        if not matches:
            continue
        level, width = max(matches)
        rank = (level, width, zone.priority)
        if best is None or rank > best[0] or (rank == best[0] and zone.code < best[1].code):
            best = (rank, zone)
    return best[1] if best is not None else None


def postcode_problems(area: Area) -> list[tuple[str, str, str]]:
    """What is wrong with an area's narrowing, as (field, code, message) with fields relative to the area."""
    problems: list[tuple[str, str, str]] = []
    narrowings = [n for n in ("region", "postal_prefix", "postal_from") if getattr(area, n) is not None]
    if area.postal_to is not None and area.postal_from is None:
        narrowings.append("postal_to")
    if len(narrowings) > 1:
        problems.append((narrowings[1], "not_allowed",
                         "An area is a country, or one region of it, or a postcode prefix, or a postcode range."))
    for name in ("postal_prefix", "postal_from", "postal_to"):
        value = getattr(area, name)
        if value is not None and not _POSTCODE_PART.match(value):
            problems.append((name, "invalid", "1 to 10 letters or digits (spaces and dashes are dropped)."))
    low, high = area.postal_from, area.postal_to
    if (low is None) != (high is None):
        missing = "postal_to" if high is None else "postal_from"
        problems.append((missing, "required", "A postcode range needs both postal_from and postal_to."))
    elif low is not None and high is not None and not problems:
        if len(low) != len(high):
            problems.append(("postal_to", "length_mismatch", "Both ends of a range have the same length."))
        elif low > high:
            problems.append(("postal_to", "before_start", "postal_to must not come before postal_from."))
    return problems


# ---------------------------------------------------------------------------------------------
# rates


@dataclass(frozen=True)
class Tier:
    """weight_tiers: up to `bound` grams (inclusive); price_tiers: from a subtotal of `bound`."""

    bound: int
    amount: int


@dataclass(frozen=True)
class Rate:
    """A method's price in one currency."""

    amount: int | None = None
    free_over: int | None = None
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class MethodRates:
    kind: Kind
    rates: Mapping[str, Rate] = field(default_factory=dict)  # by ISO 4217 currency


def quote(method: MethodRates, *, subtotal: int, weight_grams: int, currency: str) -> int | None:
    """What the method costs for a cart, in minor units of `currency`; None: not available for it."""
    if subtotal < 0 or weight_grams < 0:
        raise ValueError("subtotal and weight are never negative")
    rate = method.rates.get(currency)
    if rate is None:
        return None
    if method.kind == "flat":
        return rate.amount
    if method.kind == "free_over":
        if rate.amount is None or rate.free_over is None:
            return None
        return 0 if subtotal >= rate.free_over else rate.amount
    if method.kind == "weight_tiers":
        return next((t.amount for t in rate.tiers if weight_grams <= t.bound), None)
    found: int | None = None
    for tier in rate.tiers:  # price_tiers, ascending
        if tier.bound > subtotal:
            break
        found = tier.amount
    return found


def rate_problems(kind: Kind, rate: Rate) -> list[tuple[str, str, str]]:
    """What is wrong with a rate for a method of `kind`, as (field, code, message) with fields
    relative to the rate ("amount", "weight_tiers.2.max_grams"). Empty: valid."""
    problems: list[tuple[str, str, str]] = []
    wants_amount = kind in ("flat", "free_over")
    if wants_amount and rate.amount is None:
        problems.append(("amount", "required", f"A {kind} method needs an amount."))
    if not wants_amount and rate.amount is not None:
        problems.append(("amount", "not_allowed", f"A {kind} method prices its tiers, not one amount."))
    if kind == "free_over" and rate.free_over is None:
        problems.append(("free_over", "required", "The subtotal from which shipping is free."))
    if kind != "free_over" and rate.free_over is not None:
        problems.append(("free_over", "not_allowed", "Only free_over methods have a threshold."))
    for name, value in (("amount", rate.amount), ("free_over", rate.free_over)):
        if value is not None and value < 0:
            problems.append((name, "too_small", "0 or more (minor units)."))
    tiers_field = kind if kind in ("weight_tiers", "price_tiers") else None
    bound_name = "max_grams" if kind == "weight_tiers" else "min_subtotal"
    if tiers_field is None:
        if rate.tiers:
            problems.append(("tiers", "not_allowed", f"A {kind} method has no tiers."))
        return problems
    if not rate.tiers:
        problems.append((tiers_field, "required", "At least one tier."))
        return problems
    if kind == "price_tiers" and rate.tiers[0].bound != 0:
        problems.append((f"{tiers_field}.0.{bound_name}", "must_start_at_zero",
                         "The first price tier starts at a subtotal of 0, so every cart has a price."))
    for i, tier in enumerate(rate.tiers):
        if tier.amount < 0:
            problems.append((f"{tiers_field}.{i}.amount", "too_small", "0 or more (minor units)."))
        if tier.bound < 0:
            problems.append((f"{tiers_field}.{i}.{bound_name}", "too_small", "0 or more."))
        if i and tier.bound <= rate.tiers[i - 1].bound:
            problems.append((f"{tiers_field}.{i}.{bound_name}", "not_increasing",
                             f"Each tier's {bound_name} is greater than the one before."))
    return problems


# ---------------------------------------------------------------------------------------------
# warehouses


def ships_from(allowed: Collection[uuid.UUID], cart_warehouses: Collection[uuid.UUID] | None) -> bool:
    """Whether a method limited to `allowed` warehouses (empty: any) can carry a cart shipping from
    `cart_warehouses` (None or empty: not known yet, so no limit). A cart split over several
    warehouses needs a method every one of them can ship."""
    if not allowed or not cart_warehouses:
        return True
    return set(cart_warehouses) <= set(allowed)
