"""The stock service against real PostgreSQL: the ledger, buckets, reservations, allocations,
shipments, lots, backorders and preorders, availability and low-stock events."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.modules.inventory import stock
from mercato.modules.inventory.errors import InsufficientStock, InvalidInventory, LotRequired, NegativeOnHand
from mercato.modules.inventory.stock import ReserveLine
from tests.integration.catalog.factories import channel_ids
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse, set_policy

TTL = timedelta(minutes=15)


async def receive(session: AsyncSession, variant: uuid.UUID, warehouse: uuid.UUID, q: int, **kw: object) -> None:
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=warehouse, kind="receipt", delta=q,
                               actor="test", **kw)  # type: ignore[arg-type]


async def row(session: AsyncSession, variant: uuid.UUID, warehouse: uuid.UUID) -> stock.StockRow:
    return next(r for r in await stock.stock_rows(session, variant_id=variant) if r.warehouse_id == warehouse)


async def sellable(session: AsyncSession, variant: uuid.UUID, channel: str = "web-eu") -> bool:
    channel_id = (await channel_ids(session))[channel]
    value = (await session.execute(text("SELECT sellable FROM inventory_availability WHERE variant_id = :v "
                                        "AND channel_id = :c"), {"v": variant, "c": channel_id})).scalar()
    return bool(value)


async def test_receipts_adjustments_and_counts_are_movements_that_add_up(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 10, reference_type="purchase_order", reference_id="po-1")
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="adjustment", delta=-3,
                               reason="broken", actor="staff:1")
    after = await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="count_correction",
                                       set_on_hand=5, actor="staff:1")
    assert (after.on_hand, after.available) == (5, 5)
    kinds = (await session.execute(text("SELECT kind, on_hand_delta FROM stock_movements WHERE variant_id = :v "
                                        "ORDER BY id"), {"v": variant})).all()
    assert [tuple(k) for k in kinds] == [("receipt", 10), ("adjustment", -3), ("count_correction", -2)]
    assert await stock.verify(session) == []
    assert await sellable(session, variant)


async def test_on_hand_never_goes_below_zero_and_a_refusal_changes_nothing(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 2)
    with pytest.raises(NegativeOnHand):
        await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="write_off", delta=-3,
                                   actor="test")
    assert (await row(session, variant, wh)).on_hand == 2
    assert await stock.verify(session) == []


async def test_the_ledger_is_append_only(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text("UPDATE stock_movements SET on_hand_delta = 100 WHERE variant_id = :v"),
                                  {"v": variant})


async def test_reserve_allocate_ship_moves_units_from_free_to_gone(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 5)
    held = await stock.reserve(session, reference="cart:a", lines=[ReserveLine(variant, 3)], channel_id=None,
                               country=None, ttl=TTL)
    assert sum(r.quantity for r in held) == 3
    assert ((r := await row(session, variant, wh)).reserved, r.available) == (3, 2)
    with pytest.raises(InsufficientStock) as refused:
        await stock.reserve(session, reference="cart:b", lines=[ReserveLine(variant, 3)], channel_id=None,
                            country=None, ttl=TTL)
    assert refused.value.code == "inventory.insufficient_stock"
    assert refused.value.errors[0].message == "3 wanted, 2 available."

    [allocation] = await stock.allocate(session, "cart:a", order_reference="order:1", actor="test")
    assert ((r := await row(session, variant, wh)).reserved, r.allocated, r.available) == (0, 3, 2)
    assert await stock.reservations(session, "cart:a") == []
    shipped = await stock.ship(session, allocation.id, 2, actor="test")
    assert (shipped.quantity, shipped.shipped) == (1, 2)
    assert ((r := await row(session, variant, wh)).on_hand, r.allocated, r.available) == (3, 1, 2)
    assert await stock.deallocate(session, "order:1", actor="test") == 1
    assert ((r := await row(session, variant, wh)).allocated, r.available) == (0, 3)
    assert await stock.verify(session) == []


async def test_release_and_expiry_give_units_back_once(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 1)
    await stock.reserve(session, reference="cart:a", lines=[ReserveLine(variant, 1)], channel_id=None, country=None,
                        ttl=TTL)
    assert not await sellable(session, variant)  # the last unit is held
    assert await stock.release(session, "cart:a", actor="test") == 1
    assert await stock.release(session, "cart:a", actor="test") == 0
    assert await sellable(session, variant)

    await stock.reserve(session, reference="cart:b", lines=[ReserveLine(variant, 1)], channel_id=None, country=None,
                        ttl=TTL)
    await session.execute(text("UPDATE stock_reservations SET expires_at = now() - interval '1 second'"))
    assert await stock.refresh(session, "cart:b", TTL) == 0  # an expired hold is not revived
    assert await stock.expire_reservations(session) == 1
    assert await stock.expire_reservations(session) == 0
    assert (await row(session, variant, wh)).available == 1
    await session.flush()
    events = (await session.execute(text("SELECT payload->>'reference' FROM outbox_events "
                                         "WHERE name = 'stock.reservation_expired'"))).scalars().all()
    assert "cart:b" in events
    assert await stock.verify(session) == []


async def test_a_hot_sku_spreads_over_its_buckets_and_its_quota_is_exact(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await set_policy(session, variant, buckets=8)
    await receive(session, variant, wh, 50)
    quotas = list((await session.execute(text("""
        SELECT quota FROM stock_buckets b JOIN stock_levels s ON s.id = b.stock_id
        WHERE s.variant_id = :v ORDER BY n"""), {"v": variant})).scalars())
    assert len(quotas) == 8
    assert sum(quotas) == 50
    assert max(quotas) - min(quotas) <= 1
    for i in range(50):
        await stock.reserve(session, reference=f"cart:{i}", lines=[ReserveLine(variant, 1)], channel_id=None,
                            country=None, ttl=TTL)
    with pytest.raises(InsufficientStock):
        await stock.reserve(session, reference="cart:late", lines=[ReserveLine(variant, 1)], channel_id=None,
                            country=None, ttl=TTL)
    assert ((r := await row(session, variant, wh)).reserved, r.available) == (50, 0)
    used = (await session.execute(text("""SELECT count(DISTINCT bucket) FROM stock_reservations
                                          WHERE variant_id = :v"""), {"v": variant})).scalar_one()
    assert used == 8
    # Each take moved exactly one bucket: every bucket's reserved count is what its holds say.
    per_bucket = (await session.execute(text("""
        SELECT b.reserved, (SELECT coalesce(sum(r.quantity), 0) FROM stock_reservations r
                            WHERE r.stock_id = b.stock_id AND r.bucket = b.n)
        FROM stock_buckets b JOIN stock_levels s ON s.id = b.stock_id WHERE s.variant_id = :v"""),
        {"v": variant})).all()
    assert [reserved for reserved, _ in per_bucket] == [held for _, held in per_bucket]
    # A quantity bigger than any one bucket still fits when the buckets together have room.
    await stock.release(session, "cart:1", actor="t")
    await stock.release(session, "cart:2", actor="t")
    await stock.release(session, "cart:3", actor="t")
    await stock.reserve(session, reference="cart:big", lines=[ReserveLine(variant, 3)], channel_id=None,
                        country=None, ttl=TTL)
    assert await stock.verify(session) == []


async def test_reservations_follow_the_channel_and_split_across_warehouses(session: AsyncSession) -> None:
    known = await channel_ids(session)
    [variant] = await make_tracked_variants(session)
    near = (await make_warehouse(session, priority=1)).id
    far = (await make_warehouse(session, priority=2)).id
    us_only = (await make_warehouse(session, channels=("web-us",), priority=0)).id
    for wh in (near, far, us_only):
        await receive(session, variant, wh, 2)
    held = await stock.reserve(session, reference="cart:a", lines=[ReserveLine(variant, 3)],
                               channel_id=known["web-eu"], country=None, ttl=TTL)
    assert sorted((r.warehouse_id == near, r.quantity) for r in held) == [(False, 1), (True, 2)]
    assert (await row(session, variant, us_only)).reserved == 0
    with pytest.raises(InsufficientStock):
        await stock.reserve(session, reference="cart:b", lines=[ReserveLine(variant, 2)],
                            channel_id=known["web-eu"], country=None, ttl=TTL)


async def test_backorders_and_preorders_sell_beyond_stock_up_to_their_limit(session: AsyncSession) -> None:
    [back, pre] = await make_tracked_variants(session, 2)
    wh = (await make_warehouse(session)).id
    await set_policy(session, back, backorder_limit=2)
    await receive(session, back, wh, 1)
    await stock.reserve(session, reference="cart:a", lines=[ReserveLine(back, 3)], channel_id=None, country=None,
                        ttl=TTL)
    assert (await row(session, back, wh)).available == -2
    with pytest.raises(InsufficientStock):
        await stock.reserve(session, reference="cart:b", lines=[ReserveLine(back, 1)], channel_id=None,
                            country=None, ttl=TTL)

    await stock.ensure_stock(session, pre, wh)
    await set_policy(session, pre, preorder_cap=5, preorder_release_at=utcnow() + timedelta(days=30))
    assert await sellable(session, pre)
    await stock.reserve(session, reference="cart:c", lines=[ReserveLine(pre, 5)], channel_id=None, country=None,
                        ttl=TTL)
    with pytest.raises(InsufficientStock):
        await stock.reserve(session, reference="cart:d", lines=[ReserveLine(pre, 1)], channel_id=None,
                            country=None, ttl=TTL)
    assert await stock.verify(session) == []


async def test_lots_are_allocated_first_expiring_first_and_expired_ones_are_not_sold(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await set_policy(session, variant, lot_tracked=True)
    with pytest.raises(LotRequired):
        await receive(session, variant, wh, 5)
    today = utcnow().date()
    await receive(session, variant, wh, 4, lot_number="LATE", expires_on=today + timedelta(days=90))
    await receive(session, variant, wh, 3, lot_number="SOON", expires_on=today + timedelta(days=10))
    await receive(session, variant, wh, 6, lot_number="GONE", expires_on=today - timedelta(days=1))
    assert (await row(session, variant, wh)).on_hand == 13
    # The expired lot is on hand until written off, but it is not sellable.
    await stock.reserve(session, reference="cart:a", lines=[ReserveLine(variant, 5)], channel_id=None,
                        country=None, ttl=TTL)
    with pytest.raises(InsufficientStock):
        await stock.reserve(session, reference="cart:b", lines=[ReserveLine(variant, 3)], channel_id=None,
                            country=None, ttl=TTL)
    [allocation] = await stock.allocate(session, "cart:a", order_reference="order:1", actor="t")
    lots = dict((await session.execute(text("SELECT id, lot_number FROM stock_lots"))).all())
    assert [(lots[uuid.UUID(p["lot_id"])], p["quantity"]) for p in allocation.lots] == [("SOON", 3), ("LATE", 2)]
    await stock.ship(session, allocation.id, 5, actor="t")
    left = dict((await session.execute(text("SELECT lot_number, on_hand FROM stock_lots"))).all())
    assert left == {"SOON": 0, "LATE": 2, "GONE": 6}
    from mercato.modules.inventory.tasks import write_off_expired_lots

    assert await write_off_expired_lots(session) == "written_off_lots=1"
    assert (await row(session, variant, wh)).on_hand == 2
    assert await stock.verify(session) == []


async def test_low_stock_is_announced_once_per_dip(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 10)
    await stock.update_stock_settings(session, variant_id=variant, warehouse_id=wh, low_stock_threshold=3,
                                      reorder_quantity=20)

    async def lows() -> int:
        await session.flush()
        return int((await session.execute(text("SELECT count(*) FROM outbox_events WHERE name = 'stock.low' "
                                                "AND payload->>'variant_id' = :v"), {"v": str(variant)})).scalar_one())

    await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="adjustment", delta=-7,
                               actor="t")
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="adjustment", delta=-1,
                               actor="t")
    assert await lows() == 1
    await receive(session, variant, wh, 10)
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="adjustment", delta=-10,
                               actor="t")
    assert await lows() == 2
    # A dip caused by reservations is found by the sweep.
    await receive(session, variant, wh, 10)
    await stock.reserve(session, reference="cart:x", lines=[ReserveLine(variant, 10)], channel_id=None,
                        country=None, ttl=TTL)
    assert await stock.sweep_low_stock(session) >= 1
    assert await lows() == 3


async def test_availability_follows_the_warehouse_channels(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    assert not await sellable(session, variant)
    wh = await make_warehouse(session, channels=("web-us",))
    await receive(session, variant, wh.id, 1)
    assert not await sellable(session, variant, "web-eu")
    assert await sellable(session, variant, "web-us")
    wh.channel_ids = list((await channel_ids(session)).values())
    await session.flush()
    await stock.recompute_availability_for_warehouse(session, wh.id)
    assert await sellable(session, variant, "web-eu")


async def test_a_transfer_cannot_take_units_buyers_hold_but_a_write_off_records_the_loss(
    session: AsyncSession,
) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, 5)
    await stock.reserve(session, reference="cart:a", lines=[ReserveLine(variant, 4)], channel_id=None, country=None,
                        ttl=TTL)
    with pytest.raises(InsufficientStock):
        await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="transfer_out", delta=-2,
                                   actor="t", reference_type="transfer", reference_id="tr-1")
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="transfer_out", delta=-1,
                               actor="t", reference_type="transfer", reference_id="tr-1")
    lost = await stock.change_on_hand(session, variant_id=variant, warehouse_id=wh, kind="write_off", delta=-2,
                                      reason="water damage", actor="t")
    assert (lost.on_hand, lost.reserved, lost.available) == (2, 4, -2)
    assert await stock.verify(session) == []


async def test_absurd_quantities_are_refused_before_they_reach_a_32_bit_column(session: AsyncSession) -> None:
    [variant] = await make_tracked_variants(session)
    wh = (await make_warehouse(session)).id
    await receive(session, variant, wh, stock.MAX_ON_HAND)
    with pytest.raises(InvalidInventory):
        await receive(session, variant, wh, 1)
    await set_policy(session, variant, backorder_limit=2_000_000_000, preorder_cap=2_000_000_000,
                     preorder_release_at=utcnow() + timedelta(days=1))
    assert (await row(session, variant, wh)).on_hand == stock.MAX_ON_HAND
    assert await stock.verify(session) == []


async def test_bucket_rows_keep_room_for_their_updates_and_are_vacuumed_early(session: AsyncSession) -> None:
    # Decision 0017: a selling SKU's bucket is updated by every reservation and read by every cart
    # change; without room on its page and early vacuums, reads walk long chains of old versions.
    options = (await session.execute(text(
        "SELECT reloptions FROM pg_class WHERE oid = 'stock_buckets'::regclass"))).scalar_one()
    assert set(options) >= {"fillfactor=50", "autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=200"}
