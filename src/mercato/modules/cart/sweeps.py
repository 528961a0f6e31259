"""The work of the cart's periodic jobs (tasks.py), callable from tests with a fixed `now`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import rfc3339, utcnow
from mercato.kit.outbox import emit
from mercato.modules.cart import rules
from mercato.modules.cart.events import CartAbandoned

BATCH = 500
PURGE_BATCH = 5000

# Claimed with SKIP LOCKED (a cart being changed right now is not idle) and marked in the same
# statement, so each spell of inactivity gives one event however many workers sweep.
_ABANDONED = text("""
WITH due AS (
    SELECT c.id FROM carts c
    WHERE c.status = 'active' AND c.abandoned_at IS NULL AND (c.email IS NOT NULL OR c.customer_id IS NOT NULL)
      AND c.updated_at <= :cutoff AND c.expires_at > :now
      AND EXISTS (SELECT 1 FROM cart_lines l WHERE l.cart_id = c.id)
    ORDER BY c.updated_at LIMIT :n
    FOR UPDATE SKIP LOCKED
)
UPDATE carts c SET abandoned_at = :now FROM due WHERE c.id = due.id
RETURNING c.id, c.channel_id, c.customer_id, c.currency, c.updated_at,
          -- a customer's cart without an email of its own mails the account's address
          coalesce(c.email, (SELECT cu.email FROM customers cu WHERE cu.id = c.customer_id)) AS email,
          (SELECT count(*) FROM cart_lines l WHERE l.cart_id = c.id) AS line_count,
          (SELECT coalesce(sum(l.quantity), 0) FROM cart_lines l WHERE l.cart_id = c.id) AS quantity,
          (SELECT coalesce(sum(l.quantity * l.unit_price), 0) FROM cart_lines l WHERE l.cart_id = c.id) AS subtotal
""")


async def notice_abandoned(session: AsyncSession, *, now: datetime | None = None, limit: int = BATCH) -> int:
    """Emit `cart.abandoned` for carts with lines and an email (their own, or their customer's)
    idle for ABANDONED_AFTER, once per spell of inactivity (any change clears the mark). Returns how
    many."""
    at = now or utcnow()
    rows = (await session.execute(_ABANDONED, {"cutoff": at - rules.ABANDONED_AFTER, "now": at, "n": limit})).all()
    for row in sorted(rows, key=lambda r: r.id):
        await emit(session, CartAbandoned(
            cart_id=str(row.id), channel_id=str(row.channel_id),
            customer_id=str(row.customer_id) if row.customer_id else None, email=row.email, currency=row.currency,
            line_count=int(row.line_count), quantity=int(row.quantity), subtotal=int(row.subtotal),
            last_activity_at=rfc3339(row.updated_at),
        ))
    await session.flush()
    return len(rows)


async def purge_expired(session: AsyncSession, *, now: datetime | None = None, limit: int = PURGE_BATCH) -> int:
    """Delete carts past their lifetime (their lines go with them). Stock a checkout held for one
    lapses on its own (the reservation's TTL). Returns how many."""
    result = await session.execute(text("""
        DELETE FROM carts WHERE id IN (
            SELECT id FROM carts WHERE expires_at <= :now ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED)
        RETURNING id"""), {"now": now or utcnow(), "n": limit})
    return len(result.all())
