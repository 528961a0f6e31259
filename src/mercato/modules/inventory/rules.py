"""Pure inventory rules: availability, how free stock is split into buckets, which warehouses a
reservation draws from, and first-expiring-first-out lot picking. No I/O."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

STRATEGIES = ("priority", "nearest", "fewest_splits")


def available(on_hand: int, reserved: int, allocated: int, safety_stock: int) -> int:
    """What can still be promised; negative when more is promised than is on hand (backorders)."""
    return on_hand - reserved - allocated - safety_stock


def allowance(*, backorder_limit: int, preorder_cap: int, preorder_release_at: datetime | None,
              now: datetime) -> int:
    """Units that may be promised beyond what is on hand: backorders always, preorders until release."""
    preorder = preorder_cap if preorder_release_at is not None and now < preorder_release_at else 0
    return backorder_limit + preorder


def split_quota(free: int, used: Sequence[int]) -> list[int]:
    """Quota of each bucket: what it has promised plus an even share of the free units.

    Shares differ by at most one and add up to `free` exactly, so the buckets together never hand
    out more than the stock row could.
    """
    if not used:
        return []
    free = max(0, free)
    share, extra = divmod(free, len(used))
    return [u + share + (1 if i < extra else 0) for i, u in enumerate(used)]


@dataclass(frozen=True)
class Candidate:
    """A stock row a reservation may draw from."""

    stock_id: uuid.UUID
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    priority: int
    free: int
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Take:
    stock_id: uuid.UUID
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Shortage:
    variant_id: uuid.UUID
    wanted: int
    free: int


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine); good enough to rank warehouses."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _order(candidates: Sequence[Candidate], strategy: str,
           destination: tuple[float, float] | None) -> list[Candidate]:
    def key(c: Candidate) -> tuple[float, int, str]:
        if strategy == "nearest" and destination is not None:
            far = (distance_km(destination, (c.latitude, c.longitude))
                   if c.latitude is not None and c.longitude is not None else math.inf)
            return (far, c.priority, str(c.warehouse_id))
        return (0.0, c.priority, str(c.warehouse_id))

    return sorted(candidates, key=key)


def plan(lines: dict[uuid.UUID, int], candidates: Sequence[Candidate], *, strategy: str = "priority",
         destination: tuple[float, float] | None = None) -> tuple[list[Take], list[Shortage]]:
    """Which stock rows each line draws from.

    `priority` takes from the lowest priority number first, `nearest` from the closest warehouse to
    the destination (then priority), `fewest_splits` from one warehouse that can ship every line if
    there is one, else from whichever warehouse covers most of what is still missing, in turn.
    Shortages list lines the candidates cannot cover; the plan then covers what it can.
    """
    ordered = _order(candidates, strategy, destination)
    free = {c.stock_id: max(0, c.free) for c in ordered}
    missing = {v: q for v, q in lines.items() if q > 0}
    takes: list[Take] = []

    def take_from(rows: Sequence[Candidate]) -> None:
        for c in rows:
            want = missing.get(c.variant_id, 0)
            got = min(want, free[c.stock_id])
            if got > 0:
                takes.append(Take(c.stock_id, c.variant_id, c.warehouse_id, got))
                free[c.stock_id] -= got
                missing[c.variant_id] = want - got

    if strategy == "fewest_splits":
        warehouses = list(dict.fromkeys(c.warehouse_id for c in ordered))
        while any(missing.values()) and warehouses:
            def covered(w: uuid.UUID) -> int:
                return sum(min(missing.get(c.variant_id, 0), free[c.stock_id])
                           for c in ordered if c.warehouse_id == w)

            best = max(warehouses, key=lambda w: (covered(w), -warehouses.index(w)))
            if covered(best) == 0:
                break
            take_from([c for c in ordered if c.warehouse_id == best])
            warehouses.remove(best)
    else:
        take_from(ordered)

    shortages = [Shortage(v, lines[v], lines[v] - q) for v, q in missing.items() if q > 0]
    return takes, shortages


@dataclass(frozen=True)
class Lot:
    lot_id: uuid.UUID
    expires_on: date | None
    free: int  # on hand and not allocated


def fefo(lots: Sequence[Lot], quantity: int, today: date) -> tuple[list[tuple[uuid.UUID, int]], int]:
    """Pick `quantity` from unexpired lots, first expiring first (lots without expiry last).

    Returns the picks and what could not be picked. A lot expiring today is still sellable today.
    """
    picks: list[tuple[uuid.UUID, int]] = []
    usable = [lot for lot in lots if lot.free > 0 and (lot.expires_on is None or lot.expires_on >= today)]
    usable.sort(key=lambda lot: (lot.expires_on is None, lot.expires_on or date.max, str(lot.lot_id)))
    left = quantity
    for lot in usable:
        if left == 0:
            break
        got = min(left, lot.free)
        picks.append((lot.lot_id, got))
        left -= got
    return picks, left
