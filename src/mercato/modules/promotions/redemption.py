"""Counting promotion usage when an order is placed: atomically, inside the checkout transaction.

Each limit is one conditional statement that either counts the use or changes nothing:

  promotions               uses + 1 and spent + amount, only while uses < usage_limit and
                           spent + amount <= budget;
  promotion_codes          uses + 1, only while uses < max_uses (single use: max_uses = 1);
  promotion_customer_uses  the customer's count + 1 (inserted at 1), only while below the
                           promotion's per_customer_limit.

Under READ COMMITTED a concurrent checkout counting the same row waits for the row lock and then
re-checks the condition against the committed count, so a limit of N admits exactly N orders
however many race for it. (The check constraints on the counters are a second line of defence.)
Rows are locked in one global order — promotions by id, each followed by its code and customer
rows — so two checkouts sharing promotions cannot deadlock.

A promotion without a usage limit or budget, and a code without a maximum, is not counted on its
row here: every order would queue on that one row (the demo's automatic spend tier and WELCOME10
apply to most orders). Their `uses` and `spent` are tallied from the redemptions by the
`promotions.tally_usage` job (`tally_unlimited`), a minute behind at most. A limit added to a
running promotion counts from then on (the admin update recounts it first, under its row lock).

A first-order promotion is checked once more here, under a lock of the customer's: the cart saw no
order of theirs, but a checkout in another channel may have placed one since (or be placing one).
`redeem` waits for the customer's other first-order checkouts to end, then, in a statement of its
own (so it sees what they committed), that the customer has no order but this one — else
FirstOrderTaken (409 `promotion.not_eligible`). The customer's lock is taken before any promotion
row, in every checkout alike, so it adds no deadlock.

When a limit is reached `redeem` raises UsageLimitReached (409 `promotion.usage_limit_reached`):
the caller's transaction must roll back (the request's unit of work does), which also undoes the
counts made before the failing one. Call it as late as possible before commit: the promotion
rows stay locked until then.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.ids import new_id
from mercato.kit.sql import Statement
from mercato.modules.promotions.errors import AlreadyRedeemed, FirstOrderTaken, UsageLimitReached
from mercato.modules.promotions.rules import PromoResult

# Checkout's statements, straight to the driver (kit.sql).
_COUNT_PROMOTION = Statement("""
UPDATE promotions SET uses = uses + 1, spent = spent + :amount
WHERE id = :id
  AND (usage_limit IS NULL OR uses < usage_limit)
  AND (budget IS NULL OR spent + :amount <= budget)
RETURNING per_customer_limit
""")

# Held until the checkout's transaction ends; keyed by a named text, as the catalogue's tree lock is.
_LOCK_CUSTOMER_FIRST_ORDER = Statement("""
SELECT true AS locked
FROM pg_advisory_xact_lock(hashtextextended('mercato.promotions.first_order:' || CAST(:customer_id AS uuid), 0))
""")
# Orders are the orders module's table, read by name (read-only) as the cart's load reads them.
_OTHER_ORDER = Statement(
    "SELECT EXISTS (SELECT 1 FROM orders WHERE customer_id = :customer_id AND id <> :order_id) AS other")

_COUNT_CODE = Statement("""
UPDATE promotion_codes SET uses = uses + 1, last_used_at = :now
WHERE code = :code AND promotion_id = :id AND (max_uses IS NULL OR uses < max_uses)
RETURNING id
""")

_COUNT_CUSTOMER = Statement("""
INSERT INTO promotion_customer_uses (promotion_id, customer_id, uses) VALUES (:id, :customer_id, 1)
ON CONFLICT (promotion_id, customer_id) DO UPDATE SET uses = promotion_customer_uses.uses + 1
WHERE promotion_customer_uses.uses < :limit
RETURNING uses
""")

# Every redemption of the order in one statement.
_RECORD = Statement("""
INSERT INTO promotion_redemptions (id, promotion_id, order_id, code, customer_id, amount, currency, created_at)
SELECT r.id, r.promotion_id, CAST(:order_id AS uuid), r.code, CAST(:customer_id AS uuid), r.amount,
       CAST(:currency AS text), CAST(:at AS timestamptz)
FROM unnest(CAST(:ids AS uuid[]), CAST(:promotion_ids AS uuid[]), CAST(:codes AS text[]),
            CAST(:amounts AS bigint[])) AS r(id, promotion_id, code, amount)
""")


async def redeem(
    session: AsyncSession,
    result: PromoResult,
    *,
    order_id: uuid.UUID,
    customer_id: uuid.UUID | None,
    currency: str,
    now: datetime | None = None,
) -> None:
    """Count every promotion `result` applied against its limits, its code's and the customer's,
    and record the redemptions; raise UsageLimitReached when any limit is reached (see the module
    documentation). Statements: per promotion one, plus one for its code and one for a
    per-customer limit; then one insert for all redemptions."""
    if not result.applied:
        return
    if currency != result.currency:
        raise ValueError(f"the result is in {result.currency}, not {currency}")
    at = now or utcnow()
    if session.in_nested_transaction():
        # SQLAlchemy sends a SAVEPOINT lazily, with the savepoint's first statement of its own, and
        # `kit.sql` reuses the root transaction's connection: send it, or these writes would be made
        # outside the savepoint and survive its rollback.
        await session.connection()
    first_order = next((a for a in result.applied if a.first_order_only), None)
    if first_order is not None:
        await _check_first_order(session, first_order.label, order_id=order_id, customer_id=customer_id)
    for applied in sorted(result.applied, key=lambda a: a.promotion_id):
        limit = applied.per_customer_limit
        if applied.limited:
            counted = await _COUNT_PROMOTION.fetchrow(session, id=applied.promotion_id, amount=applied.amount)
            if counted is None:
                raise UsageLimitReached(f"{applied.label!r} has reached its usage limit or budget.")
            limit = counted.per_customer_limit
        if applied.code is not None and applied.code_limited:
            code_counted = await _COUNT_CODE.fetchrow(session, id=applied.promotion_id, code=applied.code, now=at)
            if code_counted is None:
                raise UsageLimitReached(f"The code {applied.code} has been used up.")
        if limit is not None:
            if customer_id is None:
                raise UsageLimitReached(f"{applied.label!r} is limited per customer: sign in to use it.")
            customer_counted = await _COUNT_CUSTOMER.fetchrow(
                session, id=applied.promotion_id, customer_id=customer_id, limit=limit)
            if customer_counted is None:
                raise UsageLimitReached(f"You have already used {applied.label!r} as often as you may.")
    try:
        await _RECORD.fetch(
            session, order_id=order_id, customer_id=customer_id, currency=currency, at=at,
            ids=[new_id() for _ in result.applied], promotion_ids=[a.promotion_id for a in result.applied],
            codes=[a.code for a in result.applied], amounts=[a.amount for a in result.applied])
    except IntegrityError as exc:
        raise AlreadyRedeemed() from exc


async def _check_first_order(session: AsyncSession, label: str, *, order_id: uuid.UUID,
                             customer_id: uuid.UUID | None) -> None:
    if customer_id is None:  # a guest cannot prove a first order (`rules`): never applied to one
        raise FirstOrderTaken(label)
    await _LOCK_CUSTOMER_FIRST_ORDER.fetchval(session, customer_id=customer_id)
    if await _OTHER_ORDER.fetchval(session, customer_id=customer_id, order_id=order_id):
        raise FirstOrderTaken(label)


_TALLY_PROMOTIONS = text("""
UPDATE promotions p SET uses = r.uses, spent = r.spent
FROM (SELECT promotion_id, count(*) AS uses, coalesce(sum(amount), 0) AS spent
      FROM promotion_redemptions GROUP BY promotion_id) r
WHERE p.id = r.promotion_id AND p.usage_limit IS NULL AND p.budget IS NULL
  AND (p.uses, p.spent) IS DISTINCT FROM (r.uses, r.spent)
""")

_TALLY_CODES = text("""
UPDATE promotion_codes c SET uses = r.uses, last_used_at = r.last_used_at
FROM (SELECT promotion_id, code, count(*) AS uses, max(created_at) AS last_used_at
      FROM promotion_redemptions WHERE code IS NOT NULL GROUP BY promotion_id, code) r
WHERE c.promotion_id = r.promotion_id AND c.code = r.code AND c.max_uses IS NULL AND c.uses <> r.uses
""")


async def tally_unlimited(session: AsyncSession) -> int:
    """Bring the counters of unlimited promotions and codes up to their redemptions (redeem does
    not count them on their rows). Limited ones are left alone: their rows are counted exactly at
    checkout, and a tally racing an uncommitted count could lose it. Returns the rows changed."""
    changed = 0
    for statement in (_TALLY_PROMOTIONS, _TALLY_CODES):
        result: Any = await session.execute(statement)
        changed += int(result.rowcount or 0)
    return changed


async def recount(session: AsyncSession, promotion_id: uuid.UUID) -> None:
    """Set one promotion's `uses` and `spent` from its redemptions (the admin update does this,
    under the promotion's row lock, before checking new limits against them)."""
    await session.execute(text("""
        UPDATE promotions p SET uses = r.uses, spent = r.spent
        FROM (SELECT count(*) AS uses, coalesce(sum(amount), 0) AS spent
              FROM promotion_redemptions WHERE promotion_id = :id) r
        WHERE p.id = :id AND p.usage_limit IS NULL AND p.budget IS NULL"""), {"id": promotion_id})
