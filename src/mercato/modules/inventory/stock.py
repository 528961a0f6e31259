"""Core stock operations: every change of on-hand, reserved or allocated stock goes through here.

Each operation writes its movements to the ledger in the same transaction, keeps the buckets'
quotas in step with what may be sold, and recomputes a variant's availability per channel when its
free stock may have reached or left zero (the catalogue then re-lists the product and drops its
cached pages).

Lock order, to keep concurrent operations free of deadlocks: stock rows by id, then their buckets
by number, then availability rows by (variant, channel). The reservation fast path locks a single
bucket with SKIP LOCKED and so never waits at all.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.outbox import emit
from mercato.kit.sql import Statement
from mercato.modules import catalog
from mercato.modules.inventory import rules
from mercato.modules.inventory.errors import (
    AllocationNotFound,
    InsufficientStock,
    InvalidInventory,
    LotRequired,
    NegativeOnHand,
    VariantNotFound,
    WarehouseNotFound,
)

MOVEMENT_KINDS = ("receipt", "adjustment", "reservation", "release", "allocation", "shipment", "return",
                  "write_off", "transfer_out", "transfer_in", "count_correction")
ON_HAND_KINDS = frozenset({"receipt", "adjustment", "return", "write_off", "transfer_out", "transfer_in",
                           "count_correction"})
# Moving stock out of a warehouse may not take units that buyers hold or orders are allocated.
_REFUSE_BELOW_PROMISED = frozenset({"transfer_out"})
# Far beyond any real warehouse, and with the policy allowances still inside a 32-bit column.
MAX_ON_HAND = 1_000_000_000


@dataclass(frozen=True)
class StockRow:
    stock_id: uuid.UUID
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    warehouse_code: str
    sku: str
    on_hand: int
    reserved: int
    allocated: int
    safety_stock: int
    available: int
    in_transit: int
    low_stock_threshold: int | None
    reorder_point: int | None
    reorder_quantity: int | None


@dataclass(frozen=True)
class ReserveLine:
    variant_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class ReservationRow:
    id: uuid.UUID
    reference: str
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: int
    expires_at: Any


@dataclass(frozen=True)
class AllocationRow:
    id: uuid.UUID
    reference: str
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: int
    shipped: int
    lots: list[dict[str, Any]]


@dataclass(frozen=True)
class Discrepancy:
    stock_id: uuid.UUID
    what: str
    expected: int
    actual: int


def _split_reference(reference: str) -> tuple[str, str]:
    kind, sep, rest = reference.partition(":")
    return (kind[:30], rest) if sep and kind and rest else ("reservation", reference)


# ---------------------------------------------------------------------------------------------
# stock rows and reading them


_STOCK_ROWS = """
SELECT s.id, s.variant_id, s.warehouse_id, w.code, v.sku, s.on_hand,
       coalesce(b.reserved, 0), coalesce(b.allocated, 0), s.safety_stock,
       (SELECT coalesce(sum(tl.quantity - tl.quantity_received), 0) FROM stock_transfer_lines tl
        JOIN stock_transfers t ON t.id = tl.transfer_id
        WHERE t.status IN ('in_transit', 'partially_received') AND t.to_warehouse_id = s.warehouse_id
          AND tl.variant_id = s.variant_id),
       s.low_stock_threshold, s.reorder_point, s.reorder_quantity
FROM stock_levels s
JOIN warehouses w ON w.id = s.warehouse_id
JOIN variants v ON v.id = s.variant_id
LEFT JOIN LATERAL (SELECT sum(reserved) AS reserved, sum(allocated) AS allocated
                   FROM stock_buckets WHERE stock_id = s.id) b ON true
"""
_STOCK_ROWS_OF = Statement(_STOCK_ROWS + """
WHERE (CAST(:variant AS uuid) IS NULL OR s.variant_id = :variant)
  AND (CAST(:warehouse AS uuid) IS NULL OR s.warehouse_id = :warehouse)
  AND (CAST(:after AS uuid) IS NULL OR s.variant_id > :after)
ORDER BY s.variant_id, w.priority, w.code LIMIT :limit""")
_STOCK_ROW = Statement(_STOCK_ROWS + " WHERE s.id = :id")


def _stock_row(r: Any) -> StockRow:
    return StockRow(
        stock_id=r[0], variant_id=r[1], warehouse_id=r[2], warehouse_code=r[3], sku=r[4], on_hand=r[5],
        reserved=int(r[6]), allocated=int(r[7]), safety_stock=r[8],
        available=rules.available(r[5], int(r[6]), int(r[7]), r[8]), in_transit=int(r[9]),
        low_stock_threshold=r[10], reorder_point=r[11], reorder_quantity=r[12],
    )


async def stock_rows(session: AsyncSession, *, variant_id: uuid.UUID | None = None,
                     warehouse_id: uuid.UUID | None = None, after_variant: uuid.UUID | None = None,
                     limit: int = 1000) -> list[StockRow]:
    """Stock rows of a variant (every warehouse) or of a warehouse (by variant id, keyset `after_variant`)."""
    rows = await _STOCK_ROWS_OF.fetch(session, variant=variant_id, warehouse=warehouse_id, after=after_variant,
                                      limit=limit)
    return [_stock_row(r) for r in rows]


async def _one_row(session: AsyncSession, stock_id: uuid.UUID) -> StockRow:
    return _stock_row(await _STOCK_ROW.fetchrow(session, id=stock_id))


@dataclass(frozen=True)
class _Policy:
    backorder_limit: int = 0
    preorder_cap: int = 0
    preorder_release_at: Any = None
    lot_tracked: bool = False
    buckets: int = 1

    def allowance(self) -> int:
        return rules.allowance(backorder_limit=self.backorder_limit, preorder_cap=self.preorder_cap,
                               preorder_release_at=self.preorder_release_at, now=utcnow())


_POLICY = Statement("""SELECT backorder_limit, preorder_cap, preorder_release_at, lot_tracked, buckets
                       FROM inventory_items WHERE variant_id = :v""")


async def _policy(session: AsyncSession, variant_id: uuid.UUID) -> _Policy:
    row = await _POLICY.fetchrow(session, v=variant_id)
    return _Policy(*row) if row else _Policy()


_STOCK_ID = Statement("SELECT id FROM stock_levels WHERE variant_id = :v AND warehouse_id = :w")
_BOTH_EXIST = Statement("""SELECT EXISTS (SELECT 1 FROM variants WHERE id = :v),
                                  EXISTS (SELECT 1 FROM warehouses WHERE id = :w)""")
_NEW_STOCK = Statement("""
    INSERT INTO stock_levels (id, variant_id, warehouse_id, on_hand, safety_stock, version, updated_at)
    VALUES (:id, :v, :w, 0, 0, 1, now()) ON CONFLICT (variant_id, warehouse_id) DO NOTHING""")
_NEW_BUCKETS = Statement("""
    INSERT INTO stock_buckets (stock_id, n, quota, reserved, allocated)
    SELECT :s, n, 0, 0, 0 FROM generate_series(0, :k - 1) n ON CONFLICT DO NOTHING""")


async def ensure_stock(session: AsyncSession, variant_id: uuid.UUID, warehouse_id: uuid.UUID) -> uuid.UUID:
    """The stock row of a variant in a warehouse, created (with its buckets) on first use."""
    found = await _STOCK_ID.fetchval(session, v=variant_id, w=warehouse_id)
    if found is not None:
        return uuid.UUID(str(found))
    exists = await _BOTH_EXIST.fetchrow(session, v=variant_id, w=warehouse_id)
    if not exists[0]:
        raise VariantNotFound()
    if not exists[1]:
        raise WarehouseNotFound()
    policy = await _policy(session, variant_id)
    await _NEW_STOCK.fetch(session, id=uuid.uuid4(), v=variant_id, w=warehouse_id)
    stock_id = uuid.UUID(str(await _STOCK_ID.fetchval(session, v=variant_id, w=warehouse_id)))
    await _NEW_BUCKETS.fetch(session, s=stock_id, k=policy.buckets)
    if policy.allowance():
        await apply_policy(session, variant_id)  # the new row may take over the backorder allowance
    return stock_id


# ---------------------------------------------------------------------------------------------
# quotas


_ON_HAND_AND_SAFETY = Statement("SELECT on_hand, safety_stock FROM stock_levels WHERE id = :s")
_LOCK_ALL_BUCKETS = Statement("""SELECT n, reserved + allocated FROM stock_buckets WHERE stock_id = :s
                                 ORDER BY n FOR UPDATE""")
_EXPIRED_UNITS = Statement("""
    SELECT coalesce(sum(on_hand - allocated), 0) FROM stock_lots
    WHERE stock_id = :s AND expires_on < (now() AT TIME ZONE 'UTC')::date""")
_PRIMARY_STOCK = Statement("""
    SELECT s.id FROM stock_levels s JOIN warehouses w ON w.id = s.warehouse_id
    WHERE s.variant_id = (SELECT variant_id FROM stock_levels WHERE id = :s)
    ORDER BY w.is_active DESC, w.priority, w.code LIMIT 1""")
_SET_QUOTAS = Statement("""
    UPDATE stock_buckets b SET quota = u.q
    FROM unnest(CAST(:ns AS smallint[]), CAST(:qs AS integer[])) AS u(n, q)
    WHERE b.stock_id = :s AND b.n = u.n AND b.quota <> u.q""")
_DROP_EMPTY_BUCKETS = Statement("""DELETE FROM stock_buckets WHERE stock_id = :s AND n >= :k
                                   AND reserved = 0 AND allocated = 0""")


async def _rebalance(session: AsyncSession, stock_id: uuid.UUID, policy: _Policy) -> None:
    """Share the free units of a stock row among its buckets (the row itself must be locked).

    Buckets beyond the policy's count keep what they promised and get no new units, so shrinking
    the count never strands a reservation.
    """
    stock = await _ON_HAND_AND_SAFETY.fetchrow(session, s=stock_id)
    if policy.buckets > 0:
        await _NEW_BUCKETS.fetch(session, s=stock_id, k=policy.buckets)
    buckets = await _LOCK_ALL_BUCKETS.fetch(session, s=stock_id)
    expired = 0
    if policy.lot_tracked:
        expired = int(await _EXPIRED_UNITS.fetchval(session, s=stock_id))
    allowance = policy.allowance()
    # Backorders and preorders are a limit per variant: they ride on one stock row only, the one in
    # the first warehouse by priority, or two warehouses would double the limit.
    if allowance and await _PRIMARY_STOCK.fetchval(session, s=stock_id) != stock_id:
        allowance = 0
    used = [int(b[1]) for b in buckets]
    active = [i for i, b in enumerate(buckets) if b[0] < policy.buckets]
    free = min(stock[0] - expired - stock[1] + allowance - sum(used), MAX_ON_HAND)
    quotas = list(used)
    for i, quota in zip(active, rules.split_quota(free, [used[i] for i in active]), strict=True):
        quotas[i] = quota
    await _SET_QUOTAS.fetch(session, s=stock_id, ns=[b[0] for b in buckets], qs=quotas)
    # Empty buckets beyond the count are dropped so a smaller count really means fewer rows.
    await _DROP_EMPTY_BUCKETS.fetch(session, s=stock_id, k=policy.buckets)


_LOCK_VARIANT_ROWS = Statement("""SELECT id FROM stock_levels WHERE variant_id = :v
                                  ORDER BY id FOR NO KEY UPDATE""")


async def apply_policy(session: AsyncSession, variant_id: uuid.UUID) -> None:
    """Re-split every stock row of a variant after its policy changed (bucket count, backorders...)."""
    policy = await _policy(session, variant_id)
    stock_ids = [r[0] for r in await _LOCK_VARIANT_ROWS.fetch(session, v=variant_id)]
    for stock_id in stock_ids:
        await _rebalance(session, stock_id, policy)
    await recompute_availability(session, [variant_id])


# ---------------------------------------------------------------------------------------------
# on-hand changes


# NO KEY UPDATE: the foreign-key checks of concurrent reservation inserts take KEY SHARE locks on
# this row while they hold a bucket; FOR UPDATE would make the two wait on each other.
_LOCK_ON_HAND = Statement("SELECT on_hand FROM stock_levels WHERE id = :s FOR NO KEY UPDATE")
_PROMISED = Statement("""
    SELECT coalesce(sum(reserved + allocated), 0) FROM (
        SELECT reserved, allocated FROM stock_buckets WHERE stock_id = :s ORDER BY n FOR UPDATE) b""")
_ADD_ON_HAND = Statement("UPDATE stock_levels SET on_hand = on_hand + :d, updated_at = now(), "
                         "version = version + 1 WHERE id = :s")


async def change_on_hand(
    session: AsyncSession, *, variant_id: uuid.UUID, warehouse_id: uuid.UUID, kind: str,
    delta: int | None = None, set_on_hand: int | None = None, actor: str | None,
    reason: str | None = None, reference_type: str | None = None, reference_id: str | None = None,
    lot_number: str | None = None, expires_on: date | None = None,
) -> StockRow:
    """Receive, adjust, write off, return, transfer or count: one movement per lot touched."""
    if kind not in ON_HAND_KINDS:
        raise ValueError(f"not an on-hand movement kind: {kind}")
    if (delta is None) == (set_on_hand is None):
        raise ValueError("give exactly one of delta and set_on_hand")
    stock_id = await ensure_stock(session, variant_id, warehouse_id)
    on_hand = int(await _LOCK_ON_HAND.fetchval(session, s=stock_id))
    change = delta if delta is not None else (set_on_hand or 0) - on_hand
    if change == 0:
        return await _one_row(session, stock_id)
    if on_hand + change < 0:
        raise NegativeOnHand(on_hand)
    if on_hand + change > MAX_ON_HAND:
        raise InvalidInventory([FieldError("quantity", "too_large", f"On hand cannot exceed {MAX_ON_HAND}.")])
    if kind in _REFUSE_BELOW_PROMISED and change < 0:
        # Units promised to buyers must not be moved away; damage and loss (write-offs, adjustments)
        # are facts to record even when they leave promises uncovered.
        promised = int(await _PROMISED.fetchval(session, s=stock_id))
        if on_hand + change < promised:
            raise InsufficientStock([FieldError("quantity", "insufficient_stock",
                                                f"{on_hand - promised} of {on_hand} on hand are not promised.")])
    policy = await _policy(session, variant_id)
    parts: list[tuple[uuid.UUID | None, int]] = [(None, change)]
    if policy.lot_tracked:
        parts = await _change_lots(session, stock_id, change, lot_number, expires_on, on_hand)
    await _ADD_ON_HAND.fetch(session, d=change, s=stock_id)
    await _insert_movements(session, [
        dict(stock_id=stock_id, variant_id=variant_id, warehouse_id=warehouse_id, kind=kind, quantity=abs(q),
             on_hand_delta=q, reserved_delta=0, allocated_delta=0, lot_id=lot_id)
        for lot_id, q in parts
    ], reason=reason, reference_type=reference_type, reference_id=reference_id, actor=actor)
    await _rebalance(session, stock_id, policy)
    await recompute_availability(session, [variant_id])
    row = await _one_row(session, stock_id)
    await _check_low(session, row)
    return row


_RECEIVE_LOT = Statement("""
    INSERT INTO stock_lots (id, stock_id, lot_number, expires_on, on_hand, allocated)
    VALUES (:id, :s, :n, :e, :q, 0)
    ON CONFLICT (stock_id, lot_number) DO UPDATE SET on_hand = stock_lots.on_hand + excluded.on_hand,
        expires_on = coalesce(excluded.expires_on, stock_lots.expires_on)
    RETURNING id""")
# A row's lots, first-expiring first, locked.
_LOCK_LOTS = Statement("""SELECT id, expires_on, on_hand - allocated, lot_number FROM stock_lots
                          WHERE stock_id = :s ORDER BY expires_on NULLS LAST, id FOR UPDATE""")
_TAKE_FROM_LOTS = Statement("""
    UPDATE stock_lots l SET on_hand = l.on_hand - u.q
    FROM unnest(CAST(:ids AS uuid[]), CAST(:qs AS integer[])) AS u(id, q) WHERE l.id = u.id""")


async def _change_lots(session: AsyncSession, stock_id: uuid.UUID, change: int, lot_number: str | None,
                       expires_on: date | None, on_hand: int) -> list[tuple[uuid.UUID | None, int]]:
    if change > 0:
        if not lot_number:
            raise LotRequired()
        lot_id = await _RECEIVE_LOT.fetchval(session, id=uuid.uuid4(), s=stock_id, n=lot_number, e=expires_on,
                                             q=change)
        return [(lot_id, change)]
    lots = await _LOCK_LOTS.fetch(session, s=stock_id)
    if lot_number:
        chosen = [lot for lot in lots if lot[3] == lot_number]
        if not chosen or chosen[0][2] < -change:
            raise NegativeOnHand(chosen[0][2] if chosen else 0)
        picks = [(chosen[0][0], -change)]
    else:
        # Removing stock without naming a lot takes the first-expiring units, expired ones first.
        picks, left = rules.fefo([rules.Lot(r[0], r[1], r[2]) for r in lots], -change, date.min)
        if left:
            raise NegativeOnHand(on_hand)
    await _TAKE_FROM_LOTS.fetch(session, ids=[p[0] for p in picks], qs=[p[1] for p in picks])
    return [(lot_id, -q) for lot_id, q in picks]


_SET_STOCK_SETTINGS = Statement("""
    UPDATE stock_levels SET safety_stock = coalesce(:ss, safety_stock),
        low_stock_threshold = coalesce(:lt, low_stock_threshold), reorder_point = coalesce(:rp, reorder_point),
        reorder_quantity = coalesce(:rq, reorder_quantity), version = version + 1, updated_at = now()
    WHERE id = :s""")
_LOCK_STOCK_ROW = Statement("SELECT 1 FROM stock_levels WHERE id = :s FOR NO KEY UPDATE")


async def update_stock_settings(
    session: AsyncSession, *, variant_id: uuid.UUID, warehouse_id: uuid.UUID, safety_stock: int | None = None,
    low_stock_threshold: int | None = None, reorder_point: int | None = None, reorder_quantity: int | None = None,
) -> StockRow:
    """Safety stock and replenishment levels of one stock row (None leaves a value as it is)."""
    errors = [FieldError(name, "invalid", "Must be zero or more.")
              for name, value in (("safety_stock", safety_stock), ("low_stock_threshold", low_stock_threshold),
                                  ("reorder_point", reorder_point), ("reorder_quantity", reorder_quantity))
              if value is not None and value < 0]
    if errors:
        raise InvalidInventory(errors)
    stock_id = await ensure_stock(session, variant_id, warehouse_id)
    await _SET_STOCK_SETTINGS.fetch(session, ss=safety_stock, lt=low_stock_threshold, rp=reorder_point,
                                    rq=reorder_quantity, s=stock_id)
    await _LOCK_STOCK_ROW.fetch(session, s=stock_id)
    await _rebalance(session, stock_id, await _policy(session, variant_id))
    await recompute_availability(session, [variant_id])
    row = await _one_row(session, stock_id)
    await _check_low(session, row)
    return row


_MOVEMENT_COLUMNS = ("stock_id", "variant_id", "warehouse_id", "kind", "quantity", "on_hand_delta", "reserved_delta",
                     "allocated_delta", "lot_id")
_INSERT_MOVEMENTS = Statement("""
    INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta, reserved_delta,
                                 allocated_delta, lot_id, reason, reference_type, reference_id, actor, created_at)
    SELECT stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta, reserved_delta, allocated_delta,
           lot_id, :reason, :rt, :rid, :actor, now()
    FROM unnest(CAST(:stock_id AS uuid[]), CAST(:variant_id AS uuid[]), CAST(:warehouse_id AS uuid[]),
                CAST(:kind AS text[]), CAST(:quantity AS integer[]), CAST(:on_hand_delta AS integer[]),
                CAST(:reserved_delta AS integer[]), CAST(:allocated_delta AS integer[]), CAST(:lot_id AS uuid[]))
         AS m(stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta, reserved_delta, allocated_delta,
              lot_id)""")


async def _insert_movements(session: AsyncSession, movements: list[dict[str, Any]], *, reason: str | None,
                            reference_type: str | None, reference_id: str | None, actor: str | None) -> None:
    if not movements:
        return
    columns: dict[str, Any] = {c: [m[c] for m in movements] for c in _MOVEMENT_COLUMNS}
    await _INSERT_MOVEMENTS.fetch(session, **columns, reason=reason, rt=reference_type, rid=reference_id,
                                  actor=actor)


# ---------------------------------------------------------------------------------------------
# reservations


# The variants asked for (whether they exist and track stock) and the stock rows each may draw
# from: the first thing a reservation reads. The function (migration 0013) is planned once per
# connection; sent as a plain statement, PostgreSQL planned this read afresh on every call.
# The text stays under its name beside the statement: bench/hot_sku.py builds pgbench scripts from it.
_CANDIDATES = """
SELECT stock_id, variant_id, warehouse_id, priority, latitude, longitude, free, buckets, track_inventory
FROM inventory_candidates(CAST(:variants AS uuid[]), CAST(:channel AS uuid), CAST(:country AS text))
"""
_CANDIDATES_STATEMENT = Statement(_CANDIDATES)

# Every take of a plan, each with its hold and ledger movement, in one round trip (migration 0013):
# `skip_locked` takes one bucket with room at a random offset, so concurrent buyers of one SKU spread
# over the buckets, skipping those another buyer has locked; `wait_one` waits for one bucket that had
# room a moment ago, so buyers queue on different rows instead of all on one. All takes or none: when
# one finds no bucket, the function's own sub-transaction rolls back every take and row lock of the
# call and it returns no rows.
_TAKE = """
SELECT take, bucket, free
FROM inventory_take(:mode, CAST(:stocks AS uuid[]), CAST(:quantities AS integer[]), CAST(:bucket_counts AS integer[]),
                    CAST(:ids AS uuid[]), CAST(:variants AS uuid[]), CAST(:warehouses AS uuid[]), :ref,
                    CAST(:channel AS uuid), :expires, :rt, :rid, :actor)
"""
_TAKE_STATEMENT = Statement(_TAKE)

# How a reservation takes units, from cheapest to surest. A mode that cannot take what the plan
# asks for (buckets busy or just emptied) leaves nothing behind, and the next mode runs.
_MODES = ("skip_locked", "wait_one", "exact")


class _Contended(Exception):
    """This mode could not take what the plan counted on; the next, surer mode must run."""


async def _take_and_hold(
    session: AsyncSession, takes: Sequence[rules.Take], mode: str, bucket_count: dict[uuid.UUID, int], *,
    reference: str, channel_id: uuid.UUID | None, expires_at: Any, ref_type: str, ref_id: str, actor: str | None,
) -> list[ReservationRow]:
    """The two cheap modes: one statement takes one bucket per take and writes the holds and their
    movements; when any take finds no bucket nothing is written and _Contended is raised."""
    ids = [uuid.uuid4() for _ in takes]
    got = await _TAKE_STATEMENT.fetch(
        session, mode=mode, stocks=[t.stock_id for t in takes], quantities=[t.quantity for t in takes],
        bucket_counts=[max(1, bucket_count[t.stock_id]) for t in takes], ids=ids,
        variants=[t.variant_id for t in takes], warehouses=[t.warehouse_id for t in takes],
        ref=reference, channel=channel_id, expires=expires_at, rt=ref_type, rid=ref_id, actor=actor)
    if len(got) != len(takes):
        raise _Contended()
    dried = sorted({takes[take - 1].variant_id for take, _, free in got if free == 0})
    if dried:
        await recompute_availability(session, dried)
    return [ReservationRow(i, reference, t.variant_id, t.warehouse_id, t.quantity, expires_at)
            for i, t in zip(ids, takes, strict=True)]


_BUCKET_ROOM = Statement("""SELECT n, quota - reserved - allocated FROM stock_buckets
                             WHERE stock_id = :s ORDER BY n""")
_RESERVE_IN_BUCKETS = Statement("""
    UPDATE stock_buckets b SET reserved = b.reserved + u.q
    FROM unnest(CAST(:ns AS smallint[]), CAST(:qs AS integer[])) AS u(n, q)
    WHERE b.stock_id = :s AND b.n = u.n""")


async def _take_exact(session: AsyncSession, stock_id: uuid.UUID, quantity: int) -> list[tuple[int, int]]:
    """Reserve `quantity` units of one stock row whose buckets are all locked: the (bucket, units)
    taken, spread over as many buckets as it needs."""
    # Every bucket of the row is locked already (see _reserve): take what is free across them.
    free = await _BUCKET_ROOM.fetch(session, s=stock_id)
    parts: list[tuple[int, int]] = []
    left = quantity
    for n, room in free:
        got_here = min(left, max(0, room))
        if got_here:
            parts.append((n, got_here))
            left -= got_here
    if left:
        raise AssertionError("the plan was made under the same locks")
    await _RESERVE_IN_BUCKETS.fetch(session, s=stock_id, ns=[p[0] for p in parts], qs=[p[1] for p in parts])
    return parts


async def reserve(
    session: AsyncSession, *, reference: str, lines: Sequence[ReserveLine], channel_id: uuid.UUID | None,
    country: str | None, ttl: timedelta, strategy: str = "priority",
    destination: tuple[float, float] | None = None, actor: str | None = None,
) -> list[ReservationRow]:
    """Hold stock for `reference` (a cart) until `ttl` passes; all lines or none (409 otherwise).

    Variants that do not track inventory need no reservation. A failed attempt leaves nothing
    behind, and the next one is surer: first without waiting for any lock, then waiting for one
    bucket per stock row (each of these two is one statement for the whole cart), then with every
    candidate bucket locked in order — exact, so a buyer is refused only when the stock really
    cannot cover the cart, never because buckets were busy.
    """
    wanted: dict[uuid.UUID, int] = defaultdict(int)
    for line in lines:
        if line.quantity <= 0:
            raise InvalidInventory([FieldError("quantity", "invalid", "Must be at least 1.")])
        wanted[line.variant_id] += line.quantity
    if strategy not in rules.STRATEGIES:
        raise InvalidInventory([FieldError("strategy", "invalid", f"One of {', '.join(rules.STRATEGIES)}.")])
    rows = await _candidate_rows(session, wanted, channel_id, country)
    tracked = {r[1]: r[8] for r in rows}
    if len(tracked) < len(wanted):
        raise VariantNotFound()
    wanted = {v: q for v, q in wanted.items() if tracked[v]}
    if not wanted:
        return []
    found: list[tuple[rules.Candidate, int]] | None = _as_candidates(rows)
    for mode in _MODES[:-1]:
        try:
            return await _reserve(session, reference, wanted, channel_id, country, ttl, strategy, destination,
                                  actor, mode, found)
        except _Contended:
            found = None  # the next mode reads afresh
    # The exact mode locks every candidate bucket; a savepoint drops those locks again when the
    # stock really is short and the caller goes on with its transaction.
    async with session.begin_nested():
        return await _reserve(session, reference, wanted, channel_id, country, ttl, strategy, destination,
                              actor, _MODES[-1], None)


async def _candidate_rows(session: AsyncSession, wanted: dict[uuid.UUID, int], channel_id: uuid.UUID | None,
                          country: str | None) -> Sequence[Any]:
    return await _CANDIDATES_STATEMENT.fetch(session, variants=list(wanted), channel=channel_id, country=country)


def _as_candidates(rows: Sequence[Any]) -> list[tuple[rules.Candidate, int]]:
    return [(rules.Candidate(r[0], r[1], r[2], r[3], int(r[6]), r[4], r[5]), int(r[7]))
            for r in rows if r[0] is not None and r[8]]


async def _candidates(session: AsyncSession, wanted: dict[uuid.UUID, int], channel_id: uuid.UUID | None,
                      country: str | None) -> list[tuple[rules.Candidate, int]]:
    return _as_candidates(await _candidate_rows(session, wanted, channel_id, country))


# Every bucket the exact mode may take from, locked in the one order every writer uses.
_LOCK_CANDIDATE_BUCKETS = Statement("""SELECT 1 FROM stock_buckets WHERE stock_id = ANY(CAST(:ids AS uuid[]))
                                       ORDER BY stock_id, n FOR UPDATE""")
# The holds and their ledger movements in one statement: one round trip less while the bucket's
# lock is held.
_HOLD_EXACT = Statement("""
    WITH held AS (
        INSERT INTO stock_reservations (id, reference, stock_id, bucket, variant_id, warehouse_id, quantity,
                                        channel_id, expires_at, created_at)
        SELECT id, :ref, stock_id, n, variant_id, warehouse_id, q, :channel, :expires, now()
        FROM unnest(CAST(:ids AS uuid[]), CAST(:stocks AS uuid[]), CAST(:ns AS smallint[]),
                    CAST(:variants AS uuid[]), CAST(:warehouses AS uuid[]), CAST(:qs AS integer[]))
             AS r(id, stock_id, n, variant_id, warehouse_id, q)
        RETURNING stock_id, variant_id, warehouse_id, quantity)
    INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta,
                                 reserved_delta, allocated_delta, reason, reference_type, reference_id,
                                 actor, created_at)
    SELECT stock_id, variant_id, warehouse_id, 'reservation', quantity, 0, quantity, 0, NULL, :rt, :rid,
           :actor, now()
    FROM held""")


async def _reserve(session: AsyncSession, reference: str, wanted: dict[uuid.UUID, int],
                   channel_id: uuid.UUID | None, country: str | None, ttl: timedelta, strategy: str,
                   destination: tuple[float, float] | None, actor: str | None, mode: str,
                   found: list[tuple[rules.Candidate, int]] | None) -> list[ReservationRow]:
    if found is None:
        found = await _candidates(session, wanted, channel_id, country)
    if mode == "exact":
        # Lock every candidate bucket in (stock, bucket) order — the one order every writer uses —
        # then plan again on what is really free.
        await _LOCK_CANDIDATE_BUCKETS.fetch(session, ids=sorted({c.stock_id for c, _ in found}))
        found = await _candidates(session, wanted, channel_id, country)
    candidates = [c for c, _ in found]
    bucket_count = {c.stock_id: k for c, k in found}
    takes, shortages = rules.plan(wanted, candidates, strategy=strategy, destination=destination)
    if shortages:
        if mode != "exact":
            raise _Contended()  # what looked short may be units released a moment ago: count under locks
        raise InsufficientStock(_shortage_errors(shortages))
    expires_at = utcnow() + ttl
    ref_type, ref_id = _split_reference(reference)
    if mode != "exact":
        return await _take_and_hold(session, sorted(takes, key=lambda t: t.stock_id), mode, bucket_count,
                                    reference=reference, channel_id=channel_id, expires_at=expires_at,
                                    ref_type=ref_type, ref_id=ref_id, actor=actor)
    got: list[tuple[rules.Take, int, int]] = []  # take, bucket, units
    for take in sorted(takes, key=lambda t: t.stock_id):
        got.extend((take, n, q) for n, q in await _take_exact(session, take.stock_id, take.quantity))
    ids = [uuid.uuid4() for _ in got]
    await _HOLD_EXACT.fetch(
        session, ids=ids, ref=reference, channel=channel_id, expires=expires_at,
        stocks=[t.stock_id for t, _, _ in got], ns=[n for _, n, _ in got],
        variants=[t.variant_id for t, _, _ in got], warehouses=[t.warehouse_id for t, _, _ in got],
        qs=[q for _, _, q in got], rt=ref_type, rid=ref_id, actor=actor)
    # Under every lock, a bucket may well have run dry: availability is recomputed.
    await recompute_availability(session, sorted({t.variant_id for t, _, _ in got}))
    return [ReservationRow(i, reference, t.variant_id, t.warehouse_id, q, expires_at)
            for i, (t, _, q) in zip(ids, got, strict=True)]


def _shortage_errors(shortages: Sequence[rules.Shortage]) -> list[FieldError]:
    return [FieldError(f"lines[{s.variant_id}]", "insufficient_stock",
                       f"{s.wanted} wanted, {max(0, s.free)} available.") for s in shortages]


_RESERVATIONS = Statement("""SELECT id, reference, variant_id, warehouse_id, quantity, expires_at
                              FROM stock_reservations WHERE reference = :r ORDER BY variant_id, id""")


async def reservations(session: AsyncSession, reference: str) -> list[ReservationRow]:
    rows = await _RESERVATIONS.fetch(session, r=reference)
    return [ReservationRow(*r) for r in rows]


# Counts the rows it extended (the driver reports no row count for a statement sent this way).
_REFRESH = Statement("""
    WITH extended AS (UPDATE stock_reservations SET expires_at = :e
                      WHERE reference = :r AND expires_at > now() RETURNING 1)
    SELECT count(*) FROM extended""")


async def refresh(session: AsyncSession, reference: str, ttl: timedelta) -> int:
    """Extend the hold of a buyer who is still active. Expired holds are not revived."""
    return int(await _REFRESH.fetchval(session, e=utcnow() + ttl, r=reference))


_RESERVATION_COLUMNS = "id, reference, stock_id, bucket, variant_id, warehouse_id, quantity"
_RELEASE = Statement(f"""
    DELETE FROM stock_reservations WHERE reference = :r
      AND (CAST(:variants AS uuid[]) IS NULL OR variant_id = ANY(CAST(:variants AS uuid[])))
    RETURNING {_RESERVATION_COLUMNS}""")  # noqa: S608 - only constant column lists are interpolated
_EXPIRE = Statement(f"""
    DELETE FROM stock_reservations WHERE id IN (
        SELECT id FROM stock_reservations WHERE expires_at <= now()
        ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING {_RESERVATION_COLUMNS}""")  # noqa: S608 - only constant column lists are interpolated


async def release(session: AsyncSession, reference: str, *, actor: str | None,
                  variant_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Give back what `reference` holds (all of it, or the given variants'). Returns units released."""
    rows = await _RELEASE.fetch(session, r=reference, variants=list(variant_ids) if variant_ids else None)
    await _give_back(session, rows, reason=None, actor=actor)
    return sum(int(r[6]) for r in rows)


async def expire_reservations(session: AsyncSession, *, limit: int = 500) -> int:
    """Release holds whose time has passed (the worker runs this); returns how many were released.

    Rows are claimed with SKIP LOCKED, so several workers share the sweep and a hold being
    converted into an allocation at this very moment is left to that checkout.
    """
    rows = await _EXPIRE.fetch(session, n=limit)
    await _give_back(session, rows, reason="expired", actor="system:expiry")
    for reference in sorted({r[1] for r in rows}):
        await emit(session, {"reference": reference,
                             "variant_ids": sorted({str(r[4]) for r in rows if r[1] == reference})},
                   name="stock.reservation_expired")
    return len(rows)


# Under the rows' and buckets' locks, one statement gives the units back to their buckets, writes
# the release movements and reads, per stock row, whether a bucket it gave back to had run dry (so
# availability may flip) and whether the row is over-promised (see _resplit_overpromised; that
# read only looks at quotas and on hand, which the update leaves as they are, so reading them in
# the update's snapshot gives what a statement after it would).
_GIVE_BACK = Statement("""
    WITH given AS (
        UPDATE stock_buckets b SET reserved = b.reserved - u.q
        FROM unnest(CAST(:stocks AS uuid[]), CAST(:ns AS smallint[]), CAST(:qs AS integer[])) AS u(stock_id, n, q)
        WHERE b.stock_id = u.stock_id AND b.n = u.n
        RETURNING b.stock_id, b.quota - b.reserved - b.allocated - u.q AS free_before
    ), logged AS (
        INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta,
                                     reserved_delta, allocated_delta, reason, reference_type, reference_id,
                                     actor, created_at)
        SELECT stock_id, variant_id, warehouse_id, 'release', q, 0, -q, 0, :reason, rt, rid, :actor, now()
        FROM unnest(CAST(:m_stocks AS uuid[]), CAST(:m_variants AS uuid[]), CAST(:m_warehouses AS uuid[]),
                    CAST(:m_qs AS integer[]), CAST(:m_rts AS text[]), CAST(:m_rids AS text[]))
             AS m(stock_id, variant_id, warehouse_id, q, rt, rid)
    )
    SELECT s.id, s.variant_id,
           EXISTS (SELECT 1 FROM given g WHERE g.stock_id = s.id AND g.free_before <= 0) AS was_dry,
           coalesce(b.quota > s.on_hand - s.safety_stock, false) AS overpromised
    FROM stock_levels s
    JOIN LATERAL (SELECT sum(quota) AS quota FROM stock_buckets WHERE stock_id = s.id) b ON true
    WHERE s.id = ANY(CAST(:stock_ids AS uuid[]))
    ORDER BY s.id""")


async def _give_back(session: AsyncSession, rows: Sequence[Any], *, reason: str | None, actor: str | None) -> None:
    if not rows:
        return
    per_bucket: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    for r in rows:
        per_bucket[(r[2], r[3])] += int(r[6])
    keys = sorted(per_bucket)
    stock_ids = sorted({k[0] for k in keys})
    await _lock_rows(session, stock_ids)
    await _lock_buckets(session, keys)
    # The movements reference by reference, each reference's in the order its holds came back.
    moved = [(r, *_split_reference(reference)) for reference in sorted({r[1] for r in rows})
             for r in rows if r[1] == reference]
    given = await _GIVE_BACK.fetch(
        session, stocks=[k[0] for k in keys], ns=[k[1] for k in keys], qs=[per_bucket[k] for k in keys],
        m_stocks=[r[2] for r, _, _ in moved], m_variants=[r[4] for r, _, _ in moved],
        m_warehouses=[r[5] for r, _, _ in moved], m_qs=[int(r[6]) for r, _, _ in moved],
        m_rts=[rt for _, rt, _ in moved], m_rids=[rid for _, _, rid in moved], reason=reason, actor=actor,
        stock_ids=stock_ids)
    was_dry = {g.id for g in given if g.was_dry}
    await _resplit(session, [(g.id, g.variant_id) for g in given if g.overpromised])
    variants = sorted({r[4] for r in rows if r[2] in was_dry})
    if variants:
        await recompute_availability(session, variants)


_LOCK_ROWS = Statement("""SELECT 1 FROM stock_levels WHERE id = ANY(CAST(:ids AS uuid[]))
                          ORDER BY id FOR NO KEY UPDATE""")


async def _lock_rows(session: AsyncSession, stock_ids: Sequence[uuid.UUID]) -> None:
    await _LOCK_ROWS.fetch(session, ids=list(stock_ids))


_OVERPROMISED = Statement("""
    SELECT s.id, s.variant_id FROM stock_levels s
    JOIN LATERAL (SELECT sum(quota) AS quota FROM stock_buckets WHERE stock_id = s.id) b ON true
    WHERE s.id = ANY(CAST(:ids AS uuid[])) AND b.quota > s.on_hand - s.safety_stock
    ORDER BY s.id""")


async def _resplit_overpromised(session: AsyncSession, stock_ids: Sequence[uuid.UUID]) -> None:
    """Units coming back to a row whose stock was written off below its promises must not be
    offered again: such a row (its quotas above what it may sell) is re-split. The rows are locked."""
    await _resplit(session, [(r[0], r[1]) for r in await _OVERPROMISED.fetch(session, ids=list(stock_ids))])


async def _resplit(session: AsyncSession, overpromised: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Re-split these (stock row, variant) pairs, over-promised rows (see _resplit_overpromised)."""
    for stock_id, variant_id in overpromised:
        await _rebalance(session, stock_id, await _policy(session, variant_id))


_LOCK_BUCKETS = Statement("""
    SELECT 1 FROM stock_buckets b
    JOIN unnest(CAST(:stocks AS uuid[]), CAST(:ns AS smallint[])) AS u(stock_id, n)
      ON b.stock_id = u.stock_id AND b.n = u.n
    ORDER BY b.stock_id, b.n FOR UPDATE OF b""")


async def _lock_buckets(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, int]]) -> None:
    await _LOCK_BUCKETS.fetch(session, stocks=[k[0] for k in keys], ns=[k[1] for k in keys])


# ---------------------------------------------------------------------------------------------
# allocations and shipments


_ALLOCATION_COLUMNS = "id, reference, variant_id, warehouse_id, quantity, shipped, lots"
# Each hold comes back with whether its variant is lot-tracked: one statement less on the way.
_TAKE_HOLDS = Statement(f"""
    DELETE FROM stock_reservations WHERE reference = :r
    RETURNING {_RESERVATION_COLUMNS}, EXISTS (SELECT 1 FROM inventory_items i
                                              WHERE i.variant_id = stock_reservations.variant_id AND i.lot_tracked)
    """)  # noqa: S608 - only constant column lists are interpolated
# The held units move from reserved to allocated in their buckets, and the allocations and their
# ledger movements are written: one statement however many lines the order has (checkout's query
# count must not grow with them). The buckets are locked already.
_ALLOCATE = Statement("""
    WITH moved AS (
        UPDATE stock_buckets b SET reserved = b.reserved - u.q, allocated = b.allocated + u.q
        FROM unnest(CAST(:stocks AS uuid[]), CAST(:ns AS smallint[]), CAST(:qs AS integer[])) AS u(stock_id, n, q)
        WHERE b.stock_id = u.stock_id AND b.n = u.n
    ), allocated AS (
        INSERT INTO stock_allocations (id, reference, stock_id, bucket, variant_id, warehouse_id, quantity,
                                       shipped, lots, created_at)
        SELECT a.id, :ref, a.stock_id, a.n, a.variant_id, a.warehouse_id, a.q, 0, CAST(a.lots AS jsonb), now()
        FROM unnest(CAST(:ids AS uuid[]), CAST(:stocks AS uuid[]), CAST(:ns AS smallint[]), CAST(:variants AS uuid[]),
                    CAST(:warehouses AS uuid[]), CAST(:qs AS integer[]), CAST(:lots AS text[]))
             AS a(id, stock_id, n, variant_id, warehouse_id, q, lots)
    )
    INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta, reserved_delta,
                                 allocated_delta, lot_id, reason, reference_type, reference_id, actor, created_at)
    SELECT stock_id, variant_id, warehouse_id, 'allocation', q, 0, -q, q, NULL, :reason, :rt, :rid, :actor, now()
    FROM unnest(CAST(:stocks AS uuid[]), CAST(:variants AS uuid[]), CAST(:warehouses AS uuid[]),
                CAST(:qs AS integer[])) AS m(stock_id, variant_id, warehouse_id, q)""")


async def allocate(session: AsyncSession, reference: str, *, order_reference: str,
                   actor: str | None) -> list[AllocationRow]:
    """Turn what `reference` holds into allocations for `order_reference` (an order was placed).

    Lot-tracked stock is allocated first-expiring-first-out from unexpired lots. Returns the
    allocations; an empty list means nothing was held (it expired): the caller reserves again.
    """
    rows = await _TAKE_HOLDS.fetch(session, r=reference)
    if not rows:
        return []
    tracked = {r[4] for r in rows if r[7]}
    per_bucket: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    meta: dict[tuple[uuid.UUID, int], tuple[uuid.UUID, uuid.UUID]] = {}
    for r in rows:
        per_bucket[(r[2], r[3])] += int(r[6])
        meta[(r[2], r[3])] = (r[4], r[5])
    keys = sorted(per_bucket)
    await _lock_buckets(session, keys)
    # The lots are picked (and a shortage of unexpired lots refused) before the buckets are written:
    # the buckets are locked either way, and a refusal rolls the caller's transaction back, as the
    # holds are gone already.
    lots = await _pick_lots(session, keys, per_bucket, meta, tracked)
    allocations = [AllocationRow(uuid.uuid4(), order_reference, meta[k][0], meta[k][1], per_bucket[k], 0,
                                 lots.get(k, [])) for k in keys]
    ref_type, ref_id = _split_reference(order_reference)
    await _ALLOCATE.fetch(
        session, ref=order_reference, ids=[a.id for a in allocations], stocks=[k[0] for k in keys],
        ns=[k[1] for k in keys], variants=[a.variant_id for a in allocations],
        warehouses=[a.warehouse_id for a in allocations], qs=[a.quantity for a in allocations],
        lots=[json.dumps(a.lots) for a in allocations], reason=f"from {reference}", rt=ref_type,
        rid=ref_id, actor=actor)
    return allocations


_ALLOCATE_FROM_LOTS = Statement("""
    UPDATE stock_lots l SET allocated = l.allocated + u.q
    FROM unnest(CAST(:ids AS uuid[]), CAST(:qs AS integer[])) AS u(id, q) WHERE l.id = u.id""")


async def _pick_lots(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, int]],
                     per_bucket: dict[tuple[uuid.UUID, int], int],
                     meta: dict[tuple[uuid.UUID, int], tuple[uuid.UUID, uuid.UUID]],
                     tracked: set[uuid.UUID]) -> dict[Any, list[dict[str, Any]]]:
    picked: dict[Any, list[dict[str, Any]]] = {}
    today = utcnow().date()
    for k in keys:
        if meta[k][0] not in tracked:
            continue
        lots = await _LOCK_LOTS.fetch(session, s=k[0])
        picks, left = rules.fefo([rules.Lot(r[0], r[1], r[2]) for r in lots], per_bucket[k], today)
        if left:
            raise InsufficientStock([FieldError(f"lines[{meta[k][0]}]", "insufficient_stock",
                                                "Not enough unexpired stock in the warehouse's lots.")])
        await _ALLOCATE_FROM_LOTS.fetch(session, ids=[p[0] for p in picks], qs=[p[1] for p in picks])
        picked[k] = [{"lot_id": str(lot_id), "quantity": q} for lot_id, q in picks]
    return picked


_ALLOCATIONS = Statement(f"SELECT {_ALLOCATION_COLUMNS} FROM stock_allocations WHERE reference = :r "  # noqa: S608 - only constant column lists are interpolated
                         "ORDER BY variant_id, id")


async def allocations(session: AsyncSession, reference: str) -> list[AllocationRow]:
    rows = await _ALLOCATIONS.fetch(session, r=reference)
    return [AllocationRow(*r) for r in rows]


_LOCK_ALLOCATION = Statement("""SELECT stock_id, bucket, variant_id, warehouse_id, quantity, lots, reference
                                FROM stock_allocations WHERE id = :id FOR UPDATE""")
_SHIP_ON_HAND = Statement("UPDATE stock_levels SET on_hand = on_hand - :q, updated_at = now() WHERE id = :s")
_SHIP_FROM_BUCKET = Statement("""UPDATE stock_buckets SET allocated = allocated - :q, quota = quota - :q
                                 WHERE stock_id = :s AND n = :n""")
_SHIP_FROM_LOTS = Statement("""
    UPDATE stock_lots l SET on_hand = l.on_hand - u.q, allocated = l.allocated - u.q
    FROM unnest(CAST(:ids AS uuid[]), CAST(:qs AS integer[])) AS u(id, q) WHERE l.id = u.id""")
_SHIP_ALLOCATION = Statement("""UPDATE stock_allocations SET quantity = quantity - :q, shipped = shipped + :q,
                                lots = CAST(:lots AS jsonb) WHERE id = :id""")
_ALLOCATION = Statement(f"SELECT {_ALLOCATION_COLUMNS} FROM stock_allocations WHERE id = :id")  # noqa: S608 - only constant column lists are interpolated


async def ship(session: AsyncSession, allocation_id: uuid.UUID, quantity: int, *, actor: str | None,
               reference_id: str | None = None) -> AllocationRow:
    """Units of an allocation leave the warehouse: on hand and allocated both drop."""
    found = await _LOCK_ALLOCATION.fetchrow(session, id=allocation_id)
    if found is None:
        raise AllocationNotFound()
    stock_id, bucket, variant_id, warehouse_id, open_quantity, lots, reference = found
    if not 0 < quantity <= open_quantity:
        raise InvalidInventory([FieldError("quantity", "invalid", f"Between 1 and {open_quantity}.")])
    on_hand = int(await _LOCK_ON_HAND.fetchval(session, s=stock_id))
    if on_hand < quantity:  # allocated units were written off meanwhile: they cannot leave
        raise NegativeOnHand(on_hand)
    await _lock_buckets(session, [(stock_id, bucket)])
    await _SHIP_ON_HAND.fetch(session, q=quantity, s=stock_id)
    await _SHIP_FROM_BUCKET.fetch(session, q=quantity, s=stock_id, n=bucket)
    left, remaining_lots, shipped_lots = quantity, [], []
    for lot in lots:
        got = min(left, int(lot["quantity"]))
        left -= got
        if got:
            shipped_lots.append((uuid.UUID(lot["lot_id"]), got))
        if int(lot["quantity"]) - got:
            remaining_lots.append({"lot_id": lot["lot_id"], "quantity": int(lot["quantity"]) - got})
    if shipped_lots:
        await _SHIP_FROM_LOTS.fetch(session, ids=[p[0] for p in shipped_lots], qs=[p[1] for p in shipped_lots])
    await _SHIP_ALLOCATION.fetch(session, q=quantity, lots=json.dumps(remaining_lots), id=allocation_id)
    ref_type, ref_id = _split_reference(reference)
    parts: list[tuple[uuid.UUID | None, int]] = list(shipped_lots) or [(None, quantity)]
    await _insert_movements(session, [
        dict(stock_id=stock_id, variant_id=variant_id, warehouse_id=warehouse_id, kind="shipment", quantity=q,
             on_hand_delta=-q, reserved_delta=0, allocated_delta=-q, lot_id=lot_id)
        for lot_id, q in parts
    ], reason=None, reference_type=ref_type, reference_id=reference_id or ref_id, actor=actor)
    return AllocationRow(*await _ALLOCATION.fetchrow(session, id=allocation_id))


_LOCK_OPEN_ALLOCATIONS = Statement("""SELECT id, stock_id, bucket, variant_id, warehouse_id, quantity, lots
                                      FROM stock_allocations WHERE reference = :r AND quantity > 0
                                      ORDER BY id FOR UPDATE""")
_CLOSE_ALLOCATIONS = Statement("UPDATE stock_allocations SET quantity = 0, lots = '[]'::jsonb "
                               "WHERE id = ANY(CAST(:ids AS uuid[]))")
_DEALLOCATE_IN_BUCKETS = Statement("""
    UPDATE stock_buckets b SET allocated = b.allocated - u.q
    FROM unnest(CAST(:stocks AS uuid[]), CAST(:ns AS smallint[]), CAST(:qs AS integer[])) AS u(stock_id, n, q)
    WHERE b.stock_id = u.stock_id AND b.n = u.n""")
_DEALLOCATE_FROM_LOTS = Statement("""
    UPDATE stock_lots l SET allocated = l.allocated - u.q
    FROM unnest(CAST(:ids AS uuid[]), CAST(:qs AS integer[])) AS u(id, q) WHERE l.id = u.id""")


async def deallocate(session: AsyncSession, reference: str, *, actor: str | None) -> int:
    """Give back what an order still has allocated and not shipped (the order was cancelled)."""
    rows = await _LOCK_OPEN_ALLOCATIONS.fetch(session, r=reference)
    await _CLOSE_ALLOCATIONS.fetch(session, ids=[r[0] for r in rows])
    if not rows:
        return 0
    per_bucket: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    for r in rows:
        per_bucket[(r[1], r[2])] += int(r[5])
    keys = sorted(per_bucket)
    await _lock_rows(session, sorted({k[0] for k in keys}))
    await _lock_buckets(session, keys)
    await _DEALLOCATE_IN_BUCKETS.fetch(session, stocks=[k[0] for k in keys], ns=[k[1] for k in keys],
                                       qs=[per_bucket[k] for k in keys])
    lot_parts = [(uuid.UUID(lot["lot_id"]), int(lot["quantity"])) for r in rows for lot in (r[6] or [])]
    if lot_parts:
        await _DEALLOCATE_FROM_LOTS.fetch(session, ids=[p[0] for p in lot_parts], qs=[p[1] for p in lot_parts])
    ref_type, ref_id = _split_reference(reference)
    await _insert_movements(session, [
        dict(stock_id=r[1], variant_id=r[3], warehouse_id=r[4], kind="release", quantity=int(r[5]),
             on_hand_delta=0, reserved_delta=0, allocated_delta=-int(r[5]), lot_id=None)
        for r in rows
    ], reason="deallocated", reference_type=ref_type, reference_id=ref_id, actor=actor)
    await _resplit_overpromised(session, sorted({k[0] for k in keys}))
    await recompute_availability(session, sorted({r[3] for r in rows}))
    return sum(int(r[5]) for r in rows)


# ---------------------------------------------------------------------------------------------
# availability per channel


_AVAILABILITY_ROWS = Statement("""
INSERT INTO inventory_availability (variant_id, channel_id, sellable)
SELECT v, c.id, false FROM unnest(CAST(:variants AS uuid[])) v CROSS JOIN channels c
ON CONFLICT DO NOTHING
""")

_LOCK_AVAILABILITY = Statement("""
    SELECT 1 FROM inventory_availability WHERE variant_id = ANY(CAST(:variants AS uuid[]))
    ORDER BY variant_id, channel_id FOR UPDATE""")

_AVAILABILITY_UPDATE = Statement("""
WITH computed AS (
    SELECT a.variant_id, a.channel_id, EXISTS (
        SELECT 1 FROM stock_levels s
        JOIN warehouses w ON w.id = s.warehouse_id AND w.is_active AND a.channel_id = ANY(w.channel_ids)
        JOIN stock_buckets b ON b.stock_id = s.id
        WHERE s.variant_id = a.variant_id AND b.quota - b.reserved - b.allocated > 0) AS sellable
    FROM inventory_availability a WHERE a.variant_id = ANY(CAST(:variants AS uuid[]))
)
UPDATE inventory_availability a SET sellable = c.sellable
FROM computed c
WHERE a.variant_id = c.variant_id AND a.channel_id = c.channel_id AND a.sellable IS DISTINCT FROM c.sellable
RETURNING a.variant_id
""")


async def recompute_availability(session: AsyncSession, variant_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Bring `inventory_availability` in step for these variants; returns those whose sellability flipped.

    The rows are locked before the new values are computed in a second statement: under READ
    COMMITTED that statement sees every change committed by whoever held the lock before, so two
    buyers taking the last units of two buckets cannot both leave a stale "in stock" behind.
    """
    variants = sorted(set(variant_ids))
    if not variants:
        return []
    await _AVAILABILITY_ROWS.fetch(session, variants=variants)
    await _LOCK_AVAILABILITY.fetch(session, variants=variants)
    flipped = sorted({r[0] for r in await _AVAILABILITY_UPDATE.fetch(session, variants=variants)})
    if flipped:
        await catalog.stock_changed(session, flipped)
    return flipped


_WAREHOUSE_VARIANTS = Statement("SELECT variant_id FROM stock_levels WHERE warehouse_id = :w")


async def recompute_availability_for_warehouse(session: AsyncSession, warehouse_id: uuid.UUID) -> None:
    """After a warehouse's channels or active flag changed, every variant it stocks may have flipped."""
    variants = [r[0] for r in await _WAREHOUSE_VARIANTS.fetch(session, w=warehouse_id)]
    for start in range(0, len(variants), 1000):
        await recompute_availability(session, variants[start:start + 1000])


# ---------------------------------------------------------------------------------------------
# low stock


_MARK_LOW = Statement("UPDATE stock_levels SET low_since = now() WHERE id = :s AND low_since IS NULL RETURNING 1")
_UNMARK_LOW = Statement("UPDATE stock_levels SET low_since = NULL WHERE id = :s AND low_since IS NOT NULL")


async def _check_low(session: AsyncSession, row: StockRow) -> None:
    """Emit `stock.low` once when available stock falls to the threshold; re-arm when it recovers."""
    threshold = row.low_stock_threshold if row.low_stock_threshold is not None else row.reorder_point
    if threshold is None:
        return
    if row.available <= threshold:
        if await _MARK_LOW.fetch(session, s=row.stock_id):
            await emit(session, {
                "variant_id": str(row.variant_id), "warehouse_id": str(row.warehouse_id), "sku": row.sku,
                "warehouse_code": row.warehouse_code, "available": row.available, "threshold": threshold,
                "reorder_point": row.reorder_point, "reorder_quantity": row.reorder_quantity,
            }, name="stock.low")
    else:
        await _UNMARK_LOW.fetch(session, s=row.stock_id)


_LOW_FLIPPED = Statement("""
    SELECT s.id FROM stock_levels s
    JOIN LATERAL (SELECT sum(reserved + allocated) AS used FROM stock_buckets WHERE stock_id = s.id) b ON true
    WHERE coalesce(s.low_stock_threshold, s.reorder_point) IS NOT NULL
      AND (s.low_since IS NULL) = (s.on_hand - coalesce(b.used, 0) - s.safety_stock
                                   <= coalesce(s.low_stock_threshold, s.reorder_point))
    ORDER BY s.id LIMIT :n""")


async def sweep_low_stock(session: AsyncSession, *, limit: int = 1000) -> int:
    """Catch dips caused by reservations (whose fast path does not look at thresholds)."""
    ids = [r[0] for r in await _LOW_FLIPPED.fetch(session, n=limit)]
    for stock_id in ids:
        await _check_low(session, await _one_row(session, stock_id))
    return len(ids)


# ---------------------------------------------------------------------------------------------
# the ledger invariant


_VERIFY = Statement("""
WITH ledger AS (
    SELECT stock_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved,
           sum(allocated_delta) AS allocated
    FROM stock_movements GROUP BY stock_id
), buckets AS (
    SELECT stock_id, sum(reserved) AS reserved, sum(allocated) AS allocated,
           bool_or(reserved + allocated > quota) AS over_quota
    FROM stock_buckets GROUP BY stock_id
), held AS (
    SELECT stock_id, sum(quantity) AS reserved FROM stock_reservations GROUP BY stock_id
), allocs AS (
    SELECT stock_id, sum(quantity) AS allocated FROM stock_allocations GROUP BY stock_id
), lots AS (
    SELECT stock_id, sum(on_hand) AS on_hand FROM stock_lots GROUP BY stock_id
)
SELECT s.id, s.on_hand, coalesce(l.on_hand, 0), coalesce(b.reserved, 0), coalesce(l.reserved, 0),
       coalesce(h.reserved, 0), coalesce(b.allocated, 0), coalesce(l.allocated, 0), coalesce(a.allocated, 0),
       coalesce(b.over_quota, false), lt.on_hand, coalesce(i.lot_tracked, false)
FROM stock_levels s
LEFT JOIN ledger l ON l.stock_id = s.id
LEFT JOIN buckets b ON b.stock_id = s.id
LEFT JOIN held h ON h.stock_id = s.id
LEFT JOIN allocs a ON a.stock_id = s.id
LEFT JOIN lots lt ON lt.stock_id = s.id
LEFT JOIN inventory_items i ON i.variant_id = s.variant_id
""")


async def verify(session: AsyncSession) -> list[Discrepancy]:
    """Every stock row against its ledger: on hand, reserved and allocated each equal the sum of
    their movements (and the live reservations / allocations); no bucket over its quota; a
    lot-tracked row's on hand equals its lots'. Empty when all is well."""
    found: list[Discrepancy] = []
    for r in await _VERIFY.fetch(session):
        checks = [("on_hand = sum of movements", r[2], r[1]), ("reserved = sum of movements", r[4], r[3]),
                  ("reserved = live reservations", r[5], r[3]), ("allocated = sum of movements", r[7], r[6]),
                  ("allocated = open allocations", r[8], r[6]), ("no bucket over quota", 0, int(bool(r[9])))]
        if r[11] and r[10] is not None:
            checks.append(("on_hand = sum of lots", int(r[10]), r[1]))
        found.extend(Discrepancy(r[0], what, int(expected), int(actual))
                     for what, expected, actual in checks if int(expected) != int(actual))
    return found
