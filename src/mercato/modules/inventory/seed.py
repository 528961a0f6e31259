"""The demo store's stock (`mercato seed --demo`, after the demo catalogue): two warehouses and stock
for the demo products' variants, so lists show products in and out of stock.

* Warehouses, created only when the shop has none: "berlin" (Germany; serves the EUR and GBP
  channels, click-and-collect) and "newark" (New Jersey, United States; serves the USD and GBP
  channels). Both ship to every country of the channels they serve. Coordinates: the cities'
  centres in GeoNames (https://www.geonames.org, CC BY 4.0; Berlin 2950159, Newark 5101798).
* Stock: every variant of the demo's real products (product type "demo-item", the catalogue seed's)
  that has no stock row yet starts tracking inventory and gets a row in both warehouses, its
  quantity derived from an MD5 of its SKU and the warehouse code (the same catalogue always gets
  the same stock): about 4 % of variants have none anywhere, about 2 % of the rest none in one of
  the two, the others 1 to 40 units (one row in ten 100 to 299). Each row has one bucket holding it all, and a `receipt`
  movement (reason "demo seed", actor "seed"), so the ledger verifies.
* Availability is written for every (variant, channel) pair, then the catalogue re-lists.

The benchmark's generated copies (`--products N`, attribute "seq") are left untracked, so always in
stock: a product with stock history can no longer be deleted (the ledger keeps its rows), and the
catalogue's bulk tools delete and refill generated products freely. Set-based SQL throughout (one
statement for the stock, one for the catalogue), so running it beside a 1,000,000-product catalogue
costs one scan; re-running stocks only variants not stocked yet, never twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.ids import new_id
from mercato.modules import catalog

DEMO_PRODUCT_TYPE = "demo-item"  # the catalogue seed's product type for its demo items
REASON = "demo seed"
ACTOR = "seed"


@dataclass(frozen=True)
class _DemoWarehouse:
    code: str
    name: str
    address: dict[str, str]
    latitude: float
    longitude: float
    priority: int
    click_and_collect: bool
    currencies: tuple[str, ...]  # it serves the channels selling in these


WAREHOUSES = (
    _DemoWarehouse("berlin", "Berlin warehouse",
                   {"line1": "Lagerstraße 1", "city": "Berlin", "postal_code": "13507", "country_code": "DE"},
                   52.52437, 13.41053, 10, True, ("EUR", "GBP")),
    _DemoWarehouse("newark", "Newark warehouse",
                   {"line1": "1 Port Street", "city": "Newark", "postal_code": "07114", "region": "NJ",
                    "country_code": "US"},
                   40.73566, -74.17237, 20, False, ("USD", "GBP")),
)

_CREATE_WAREHOUSE = """
INSERT INTO warehouses (id, code, name, address, country_code, latitude, longitude, priority, is_active,
                        click_and_collect, channel_ids, ship_countries, version, created_at, updated_at)
VALUES (:id, :code, :name, CAST(:address AS jsonb), :country, :latitude, :longitude, :priority, true,
        :click_and_collect, ARRAY(SELECT id FROM channels WHERE currency = ANY(:currencies) ORDER BY code),
        '{}', 1, now(), now())
"""

# Quantities come from 28-bit numbers taken from MD5s (stable across PostgreSQL versions, unlike hashtext).
_STOCK = """
WITH wh AS (
    SELECT id, code FROM warehouses WHERE code = ANY(:codes)
), targets AS (
    SELECT v.id, v.sku FROM variants v
    JOIN products p ON p.id = v.product_id
    JOIN product_types t ON t.id = p.product_type_id AND t.slug = :product_type
    WHERE NOT p.attributes ? 'seq'  -- the real demo products, not the benchmark's generated copies
      AND NOT EXISTS (SELECT 1 FROM stock_levels s WHERE s.variant_id = v.id)
), tracked AS (
    UPDATE variants v SET track_inventory = true FROM targets t WHERE v.id = t.id AND NOT v.track_inventory
), quantities AS (
    SELECT t.id AS variant_id, wh.id AS warehouse_id,
           CASE WHEN h.per_variant % 100 < 4 OR h.per_row % 100 < 2 THEN 0
                WHEN h.per_row % 10 = 0 THEN 100 + (h.per_row / 1000) % 200
                ELSE 1 + (h.per_row / 100) % 40 END AS on_hand
    FROM targets t CROSS JOIN wh
    CROSS JOIN LATERAL (SELECT ('x' || substr(md5(t.sku), 1, 7))::bit(28)::int AS per_variant,
                               ('x' || substr(md5(t.sku || '@' || wh.code), 1, 7))::bit(28)::int AS per_row) h
), stocked AS (
    INSERT INTO stock_levels (id, variant_id, warehouse_id, on_hand, safety_stock, version, updated_at)
    SELECT gen_random_uuid(), variant_id, warehouse_id, on_hand, 0, 1, now() FROM quantities
    RETURNING id, variant_id, warehouse_id, on_hand
), buckets AS (
    -- No safety stock, backorders or extra buckets yet: the one bucket may hand out all on hand.
    INSERT INTO stock_buckets (stock_id, n, quota, reserved, allocated)
    SELECT id, 0, on_hand, 0, 0 FROM stocked
), receipts AS (
    INSERT INTO stock_movements (stock_id, variant_id, warehouse_id, kind, quantity, on_hand_delta,
                                 reserved_delta, allocated_delta, reason, actor, created_at)
    SELECT id, variant_id, warehouse_id, 'receipt', on_hand, on_hand, 0, 0, :reason, :actor, now()
    FROM stocked WHERE on_hand > 0
), availability AS (
    -- The rule of stock.recompute_availability, on rows just written (each one bucket, quota = on hand).
    INSERT INTO inventory_availability (variant_id, channel_id, sellable)
    SELECT s.variant_id, c.id, bool_or(s.on_hand > 0 AND w.is_active AND c.id = ANY(w.channel_ids))
    FROM stocked s JOIN warehouses w ON w.id = s.warehouse_id CROSS JOIN channels c
    GROUP BY s.variant_id, c.id
    ON CONFLICT (variant_id, channel_id) DO UPDATE SET sellable = excluded.sellable
)
SELECT count(*) FROM stocked
"""


async def seed_demo_stock(session: AsyncSession) -> int:
    """Create the demo warehouses (when there is no warehouse at all) and stock every demo variant
    not stocked yet. Flushes, never commits. Returns rows added (warehouses and stock rows)."""
    added = 0
    if not await session.scalar(text("SELECT EXISTS (SELECT 1 FROM warehouses)")):
        for warehouse in WAREHOUSES:
            await session.execute(text(_CREATE_WAREHOUSE), _warehouse_params(warehouse))
        added += len(WAREHOUSES)
    codes = [warehouse.code for warehouse in WAREHOUSES]
    if not await session.scalar(text("SELECT EXISTS (SELECT 1 FROM warehouses WHERE code = ANY(:codes))"),
                                {"codes": codes}):
        return added  # the shop has warehouses of its own: its stock is its business
    stocked = int(await session.scalar(text(_STOCK), {
        "codes": codes, "product_type": DEMO_PRODUCT_TYPE, "reason": REASON, "actor": ACTOR}) or 0)
    if stocked:
        await catalog.stock_changed(session, None)
        # Fresh planner statistics, so the first reads after a large load get suitable plans.
        await session.execute(text("ANALYZE stock_levels, stock_buckets, inventory_availability"))
    return added + stocked


def _warehouse_params(warehouse: _DemoWarehouse) -> dict[str, Any]:
    return {
        "id": new_id(), "code": warehouse.code, "name": warehouse.name, "address": json.dumps(warehouse.address),
        "country": warehouse.address["country_code"], "latitude": warehouse.latitude,
        "longitude": warehouse.longitude, "priority": warehouse.priority,
        "click_and_collect": warehouse.click_and_collect, "currencies": list(warehouse.currencies),
    }
