"""Inventory sweeps run by the worker: expired holds, low stock, expired lots, finished preorders."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.jobs import periodic
from mercato.modules.inventory import stock

# A hold expires at most this long after its time: carts are told 15 minutes, not to the second.
EXPIRY_EVERY = timedelta(seconds=15)


@periodic("inventory.expire_reservations", every=EXPIRY_EVERY)
async def expire_reservations(session: AsyncSession) -> str:
    released = 0
    while (batch := await stock.expire_reservations(session, limit=500)) > 0:
        released += batch
        if released >= 10_000:  # the rest waits for the next run, keeping one transaction short
            break
    return f"released={released}"


@periodic("inventory.low_stock", every=timedelta(minutes=1))
async def low_stock(session: AsyncSession) -> str:
    return f"checked={await stock.sweep_low_stock(session)}"


@periodic("inventory.expired_lots", every=timedelta(minutes=10))
async def write_off_expired_lots(session: AsyncSession) -> str:
    """Expired lots are not sellable (quotas already leave them out); writing them off makes the
    physical count say so too."""
    rows = (await session.execute(text("""
        SELECT s.variant_id, s.warehouse_id, l.lot_number, l.on_hand - l.allocated
        FROM stock_lots l JOIN stock_levels s ON s.id = l.stock_id
        WHERE l.expires_on < (now() AT TIME ZONE 'UTC')::date AND l.on_hand - l.allocated > 0
        ORDER BY s.id, l.id LIMIT 500"""))).all()
    for variant_id, warehouse_id, lot_number, quantity in rows:
        await stock.change_on_hand(session, variant_id=variant_id, warehouse_id=warehouse_id, kind="write_off",
                                   delta=-quantity, lot_number=lot_number, reason="lot expired",
                                   actor="system:lot-expiry")
    return f"written_off_lots={len(rows)}"


@periodic("inventory.preorders_released", every=timedelta(minutes=1))
async def end_released_preorders(session: AsyncSession) -> str:
    """Once a preorder's release date passes, what is sold beyond stock is a backorder no more:
    the cap is cleared and the quotas shrink to what is on hand."""
    variants = list((await session.execute(text("""
        UPDATE inventory_items SET preorder_cap = 0, version = version + 1, updated_at = now()
        WHERE preorder_release_at <= now() AND preorder_cap > 0 RETURNING variant_id"""))).scalars())
    for variant_id in sorted(variants):
        await stock.apply_policy(session, variant_id)
    return f"released={len(variants)}"
