"""Storefront availability: whether variants can be bought in a channel (and shipped to a country),
how many units are on the shelf, backorders, preorders and click-and-collect points. One statement.

Which stock counts: rows in active warehouses serving the channel and, when a country is given,
shipping there (a warehouse with no `ship_countries` ships to every country of its channels): the
same warehouses a reservation may draw from (`stock._CANDIDATES`). What can be bought is what the
buckets may still hand out (quota − reserved − allocated; quotas already leave out safety stock and
expired lots, and add the backorder and preorder allowance), so `in_stock` follows the rule of
`inventory_availability` and so of the product pages. What is on the shelf is that less the allowance.

Only variants for sale in the channel are answered (product listed there, variant priced there
now); other ids are reported as unknown, so drafts and other channels' goods reveal nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError, InvalidInput, NotFound
from mercato.modules.inventory.errors import InvalidInventory
from mercato.modules.inventory.schemas.storefront import (
    QUANTITY_CAP,
    AvailabilityList,
    CollectionPoint,
    VariantAvailability,
)
from mercato.modules.inventory.warehouses import COUNTRIES

_CHANNEL_CODE_MAX = 50

# Other modules' tables (channels, variants, prices, listings) are read by name, as foreign keys name them.
_AVAILABILITY = """
WITH ch AS (
    SELECT id, countries FROM channels WHERE code = :channel AND is_active
), sold AS (
    SELECT a.id, a.ord, v.track_inventory,
           coalesce(i.backorder_limit, 0) AS backorder_limit,
           CASE WHEN i.preorder_release_at > now() THEN i.preorder_release_at END AS preorder_release_at,
           coalesce(i.backorder_limit, 0)
             + CASE WHEN i.preorder_release_at > now() THEN i.preorder_cap ELSE 0 END AS allowance
    FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS a(id, ord)
    JOIN variants v ON v.id = a.id
    JOIN ch ON true
    JOIN product_listings l ON l.product_id = v.product_id AND l.channel_id = ch.id
    LEFT JOIN inventory_items i ON i.variant_id = v.id
    WHERE EXISTS (SELECT 1 FROM variant_prices vp
                  WHERE vp.variant_id = v.id AND vp.channel_id = ch.id
                    AND (vp.valid_from IS NULL OR vp.valid_from <= now())
                    AND (vp.valid_to IS NULL OR vp.valid_to > now()))
), wh AS (
    SELECT w.id, w.name, w.address ->> 'city' AS city, w.click_and_collect, w.priority, w.code
    FROM warehouses w JOIN ch ON ch.id = ANY(w.channel_ids)
    WHERE w.is_active AND (CAST(:country AS text) IS NULL OR cardinality(w.ship_countries) = 0
                           OR CAST(:country AS text) = ANY(w.ship_countries))
), held AS (
    SELECT s.variant_id, wh.id AS warehouse_id, wh.name, wh.city, wh.click_and_collect, wh.priority, wh.code,
           b.free, greatest(0, b.free - sold.allowance) AS shelf
    FROM sold
    JOIN stock_levels s ON s.variant_id = sold.id
    JOIN wh ON wh.id = s.warehouse_id
    CROSS JOIN LATERAL (SELECT coalesce(sum(quota - reserved - allocated), 0) AS free
                        FROM stock_buckets WHERE stock_id = s.id) b
    WHERE sold.track_inventory
)
SELECT EXISTS (SELECT 1 FROM ch), (SELECT countries FROM ch), (
    SELECT json_agg(json_build_array(
        sold.id, sold.track_inventory, coalesce(h.free, 0), coalesce(h.shelf, 0), sold.backorder_limit,
        sold.preorder_release_at, coalesce(h.points, '[]'::json)) ORDER BY sold.ord)
    FROM sold
    LEFT JOIN LATERAL (
        SELECT sum(free) AS free, sum(shelf) AS shelf,
               json_agg(json_build_array(warehouse_id, name, city) ORDER BY priority, code)
                   FILTER (WHERE click_and_collect AND shelf > 0) AS points
        FROM held WHERE held.variant_id = sold.id
    ) h ON true
)::text
"""


def _check(channel: str, country: str | None) -> None:
    if not 0 < len(channel) <= _CHANNEL_CODE_MAX:
        raise _unknown_channel()
    if country is not None and country not in COUNTRIES:
        raise InvalidInput("The request has invalid fields.", errors=[
            FieldError("query.country", "invalid", "An ISO 3166-1 alpha-2 code, upper case.")])


def _unknown_channel() -> NotFound:
    return NotFound("No such active channel.", code="channel.not_found")


async def availability(
    session: AsyncSession, *, channel: str, variant_ids: Sequence[uuid.UUID], country: str | None = None
) -> AvailabilityList:
    """Availability of each variant (in the order given, duplicates once) in the channel, shipped
    to `country` when given. Unknown channel → 404 `channel.not_found`; a country the channel does
    not sell to → 422 `inventory.invalid`."""
    _check(channel, country)
    wanted = list(dict.fromkeys(variant_ids))
    channel_found, countries, raw = (await session.execute(
        text(_AVAILABILITY), {"channel": channel, "ids": wanted, "country": country})).one()
    if not channel_found:
        raise _unknown_channel()
    if country is not None and country not in (countries or []):
        raise InvalidInventory([FieldError("query.country", "not_sold", "The channel does not sell to this country.")])
    items = [_item(row) for row in orjson.loads(raw or "[]")]
    found = {item.variant_id for item in items}
    return AvailabilityList(items=items, unknown=[str(v) for v in wanted if str(v) not in found])


def _item(row: list[Any]) -> VariantAvailability:
    variant_id, tracked, free, shelf, backorder_limit, release_at, points = row
    if not tracked:
        return VariantAvailability(variant_id=variant_id, in_stock=True, available_quantity=None, backorder=False,
                                   preorder_release_at=None, click_and_collect=[])
    preorder = datetime.fromisoformat(release_at) if release_at else None
    return VariantAvailability(
        variant_id=variant_id, in_stock=free > 0, available_quantity=min(shelf, QUANTITY_CAP),
        # Ships later: nothing on the shelf, yet it can be ordered (a preorder says so itself).
        backorder=backorder_limit > 0 and shelf == 0 and free > 0 and preorder is None,
        preorder_release_at=preorder,
        click_and_collect=[CollectionPoint(warehouse_id=w, name=n, city=c) for w, n, c in points],
    )
