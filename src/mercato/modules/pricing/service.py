"""Use cases of the pricing module: customer groups and their members, price lists and their
entries (admin), and `resolve_prices`, the one-statement price lookup for the checkout step.

Other modules' tables (channels, customers, variants, variant_prices) are read by name, as the
foreign keys name them, never through their models.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Uuid, column, delete, exists, select, table, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.kit.sql import Executor, Statement
from mercato.modules.pricing.errors import (
    CustomerGroupNotFound,
    GroupCodeTaken,
    GroupInUse,
    InvalidPricing,
    PriceListNotFound,
)
from mercato.modules.pricing.models import CustomerGroup, CustomerGroupMember, PriceList, PriceListEntry
from mercato.modules.pricing.rules import Candidate, PriceResolution, unit_price

_channels = table("channels", column("id", Uuid()), column("currency", String()))
_customers = table("customers", column("id", Uuid()))
_variants = table("variants", column("id", Uuid()))

MAX_BATCH = 1000


# ---------------------------------------------------------------------------------------------
# customer groups


async def list_groups(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[CustomerGroup]:
    keys = [SortKey(CustomerGroup.code), SortKey(CustomerGroup.id)]
    return await keyset_page(session, select(CustomerGroup), keys, limit=limit, cursor=cursor)


async def get_group(session: AsyncSession, group_id: str, *, lock: bool = False) -> CustomerGroup:
    parsed = parse_id(group_id)
    if parsed is None:
        raise CustomerGroupNotFound()
    stmt = select(CustomerGroup).where(CustomerGroup.id == parsed)
    group = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if group is None:
        raise CustomerGroupNotFound()
    return group


async def create_group(session: AsyncSession, *, code: str, name: str, tax_exempt: bool = False) -> CustomerGroup:
    """A new group; a code another group has → 409."""
    group = (await session.execute(
        insert(CustomerGroup).values(code=code, name=name, tax_exempt=tax_exempt, version=1)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(CustomerGroup)
    )).scalar_one_or_none()
    if group is None:
        raise GroupCodeTaken(code)
    return group


async def update_group(
    session: AsyncSession, group: CustomerGroup, *, code: str | None, name: str | None,
    tax_exempt: bool | None = None,
) -> CustomerGroup:
    """Change a (locked) group's code, name or tax exemption (None: unchanged); a code another
    group has → 409. An exemption changed applies to its members' carts from their next read."""
    if code is not None and code != group.code:
        taken = await session.scalar(select(exists().where(CustomerGroup.code == code, CustomerGroup.id != group.id)))
        if taken:
            raise GroupCodeTaken(code)
        group.code = code
    if name is not None:
        group.name = name
    if tax_exempt is not None:
        group.tax_exempt = tax_exempt
    group.version += 1
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent rename took the code between the check and the write
        raise GroupCodeTaken(code or group.code) from exc
    await session.refresh(group)
    return group


async def delete_group(session: AsyncSession, group: CustomerGroup) -> None:
    """Delete a (locked) group and its memberships; one a price list uses → 409."""
    if await session.scalar(select(exists().where(PriceList.customer_group_id == group.id))):
        raise GroupInUse()
    try:
        async with session.begin_nested():
            await session.delete(group)
            await session.flush()
    except IntegrityError as exc:  # a price list was pointed at it meanwhile
        raise GroupInUse() from exc


async def list_members(
    session: AsyncSession, group: CustomerGroup, *, limit: int, cursor: str | None
) -> Page[CustomerGroupMember]:
    stmt = select(CustomerGroupMember).where(CustomerGroupMember.group_id == group.id)
    return await keyset_page(session, stmt, [SortKey(CustomerGroupMember.customer_id)], limit=limit, cursor=cursor)


async def add_members(session: AsyncSession, group: CustomerGroup, customer_ids: Sequence[str]) -> int:
    """Add customers (already members are left alone); unknown ids → 422 naming each. Returns rows added."""
    parsed = [parse_id(raw) for raw in customer_ids]
    known = set((await session.execute(
        select(_customers.c.id).where(_customers.c.id.in_([p for p in parsed if p is not None]))
    )).scalars())
    errors = [FieldError(f"customer_ids.{i}", "unknown", "No customer has this id.")
              for i, p in enumerate(parsed) if p is None or p not in known]
    if errors:
        raise InvalidPricing(errors)
    result = await session.execute(
        insert(CustomerGroupMember)
        .values([{"group_id": group.id, "customer_id": p} for p in dict.fromkeys(parsed)])
        .on_conflict_do_nothing()
        .returning(CustomerGroupMember.customer_id)
    )
    return len(result.all())


async def remove_member(session: AsyncSession, group: CustomerGroup, customer_id: str) -> bool:
    """Remove a customer from the group; True when they were a member."""
    parsed = parse_id(customer_id)
    if parsed is None:
        return False
    result = await session.execute(
        delete(CustomerGroupMember)
        .where(CustomerGroupMember.group_id == group.id, CustomerGroupMember.customer_id == parsed)
        .returning(CustomerGroupMember.customer_id)
    )
    return result.first() is not None


# ---------------------------------------------------------------------------------------------
# price lists


@dataclass(frozen=True)
class PriceListData:
    name: str
    channel_id: str
    currency: str | None
    customer_group_id: str | None
    priority: int
    valid_from: datetime | None
    valid_to: datetime | None
    is_active: bool


async def list_price_lists(
    session: AsyncSession, *, channel_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[PriceList]:
    stmt = select(PriceList)
    if channel_id is not None:
        stmt = stmt.where(PriceList.channel_id == channel_id)
    return await keyset_page(session, stmt, [SortKey(PriceList.id)], limit=limit, cursor=cursor)


async def get_price_list(session: AsyncSession, price_list_id: str, *, lock: bool = False) -> PriceList:
    parsed = parse_id(price_list_id)
    if parsed is None:
        raise PriceListNotFound()
    stmt = select(PriceList).where(PriceList.id == parsed)
    price_list = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if price_list is None:
        raise PriceListNotFound()
    return price_list


async def _checked(session: AsyncSession, data: PriceListData) -> dict[str, Any]:
    """The list's column values, after checking what it refers to exists and fits together."""
    errors: list[FieldError] = []
    channel_id = parse_id(data.channel_id)
    channel_currency = None
    if channel_id is not None:
        channel_currency = await session.scalar(select(_channels.c.currency).where(_channels.c.id == channel_id))
    if channel_currency is None:
        errors.append(FieldError("channel_id", "unknown", "No channel has this id."))
    currency = data.currency or channel_currency
    if channel_currency is not None and currency != channel_currency:
        errors.append(FieldError("currency", "mismatch", f"The channel sells in {channel_currency}."))
    group_id = None
    if data.customer_group_id is not None:
        group_id = parse_id(data.customer_group_id)
        if group_id is None or await session.get(CustomerGroup, group_id) is None:
            errors.append(FieldError("customer_group_id", "unknown", "No customer group has this id."))
    if data.valid_from is not None and data.valid_to is not None and data.valid_from >= data.valid_to:
        errors.append(FieldError("valid_to", "before_start", "valid_to must be after valid_from."))
    if errors:
        raise InvalidPricing(errors)
    return {"name": data.name, "channel_id": channel_id, "currency": currency, "customer_group_id": group_id,
            "priority": data.priority, "valid_from": data.valid_from, "valid_to": data.valid_to,
            "is_active": data.is_active}


async def create_price_list(session: AsyncSession, data: PriceListData) -> PriceList:
    price_list = PriceList(**await _checked(session, data), version=1)
    session.add(price_list)
    await session.flush()
    await session.refresh(price_list)
    return price_list


async def update_price_list(session: AsyncSession, price_list: PriceList, data: PriceListData) -> PriceList:
    """Replace a (locked) list's settings (the endpoint merges a partial update into `data`)."""
    for key, value in (await _checked(session, data)).items():
        setattr(price_list, key, value)
    price_list.version += 1
    await session.flush()
    await session.refresh(price_list)
    return price_list


async def delete_price_list(session: AsyncSession, price_list: PriceList) -> None:
    await session.delete(price_list)
    await session.flush()


# ---------------------------------------------------------------------------------------------
# entries


@dataclass(frozen=True)
class EntryData:
    variant_id: str
    min_quantity: int
    amount: int = 0


async def list_entries(
    session: AsyncSession, price_list: PriceList, *, limit: int, cursor: str | None
) -> Page[PriceListEntry]:
    stmt = select(PriceListEntry).where(PriceListEntry.price_list_id == price_list.id)
    keys = [SortKey(PriceListEntry.variant_id), SortKey(PriceListEntry.min_quantity)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


async def _entry_keys(
    session: AsyncSession, entries: Sequence[EntryData], *, check_variants: bool
) -> list[tuple[uuid.UUID, int]]:
    parsed = [parse_id(e.variant_id) for e in entries]
    known: set[uuid.UUID] = set()
    if check_variants:
        known = set((await session.execute(
            select(_variants.c.id).where(_variants.c.id.in_([p for p in parsed if p is not None]))
        )).scalars())
    errors: list[FieldError] = []
    seen: set[tuple[uuid.UUID, int]] = set()
    for i, (entry, variant_id) in enumerate(zip(entries, parsed, strict=True)):
        if variant_id is None or (check_variants and variant_id not in known):
            errors.append(FieldError(f"entries.{i}.variant_id", "unknown", "No variant has this id."))
            continue
        key = (variant_id, entry.min_quantity)
        if key in seen:
            errors.append(FieldError(f"entries.{i}", "duplicate", "This variant and min_quantity appear twice."))
        seen.add(key)
    if errors:
        raise InvalidPricing(errors)
    return [(p, e.min_quantity) for p, e in zip(parsed, entries, strict=True) if p is not None]


async def upsert_entries(session: AsyncSession, price_list: PriceList, entries: Sequence[EntryData]) -> int:
    """Insert or replace entries of a (locked) list, all or none. Returns the entries written."""
    keys = await _entry_keys(session, entries, check_variants=True)
    stmt = insert(PriceListEntry).values([
        {"price_list_id": price_list.id, "variant_id": variant_id, "min_quantity": min_quantity,
         "amount": entry.amount}
        for (variant_id, min_quantity), entry in zip(keys, entries, strict=True)
    ])
    stmt = stmt.on_conflict_do_update(
        index_elements=["price_list_id", "variant_id", "min_quantity"], set_={"amount": stmt.excluded.amount}
    )
    await session.execute(stmt)
    price_list.version += 1
    await session.flush()
    await session.refresh(price_list)
    return len(keys)


async def delete_entries(session: AsyncSession, price_list: PriceList, entries: Sequence[EntryData]) -> int:
    """Delete entries of a (locked) list by (variant_id, min_quantity); returns how many existed."""
    keys = await _entry_keys(session, entries, check_variants=False)
    result = await session.execute(
        delete(PriceListEntry)
        .where(PriceListEntry.price_list_id == price_list.id,
               tuple_(PriceListEntry.variant_id, PriceListEntry.min_quantity).in_(keys))
        .returning(PriceListEntry.variant_id)
    )
    removed = len(result.all())
    if removed:
        price_list.version += 1
        await session.flush()
        await session.refresh(price_list)
    return removed


# ---------------------------------------------------------------------------------------------
# resolution (the checkout step)


@dataclass(frozen=True)
class PriceLine:
    variant_id: uuid.UUID
    quantity: int
    currency: str | None
    resolution: PriceResolution | None  # None: the variant has no current base price in the channel


# What a variant costs in a channel, as a scalar subquery another module's read can embed (the
# cart's load does, so pricing a cart costs no statement of its own): `{variant}`, `{channel}` and
# `{at}` are the SQL expressions to put in. JSON: {"amount", "currency", "lists": [entries of the
# channel's active price lists in that currency, every tier]}, or NULL without a current base
# price. `price_from_offer` makes the choice, as `resolve_prices` does.
OFFER_SQL = """(
SELECT json_build_object('amount', base.amount, 'currency', base.currency, 'lists', coalesce((
           SELECT json_agg(json_build_array(e.price_list_id, e.amount, e.min_quantity, pl.priority,
                                            pl.customer_group_id, pl.valid_from, pl.valid_to, pl.name))
           FROM price_list_entries e JOIN price_lists pl ON pl.id = e.price_list_id
           WHERE e.variant_id = {variant} AND pl.channel_id = {channel} AND pl.is_active
             AND pl.currency = base.currency), '[]'::json))
FROM (SELECT vp.amount, vp.currency FROM variant_prices vp
      WHERE vp.variant_id = {variant} AND vp.channel_id = {channel}
        AND (vp.valid_from IS NULL OR vp.valid_from <= {at}) AND (vp.valid_to IS NULL OR vp.valid_to > {at})
      ORDER BY vp.amount, vp.id LIMIT 1) base)"""


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def price_from_offer(variant_id: uuid.UUID, quantity: int, offer: Mapping[str, Any] | None, at: datetime,
                     groups: frozenset[uuid.UUID]) -> PriceLine:
    """The unit price of `quantity` units from an OFFER_SQL reading (None: no base price)."""
    if offer is None:
        return PriceLine(variant_id, quantity, None, None)
    candidates = [
        Candidate(price_list_id=uuid.UUID(list_id), amount=amount, min_quantity=min_quantity, priority=priority,
                  customer_group_id=uuid.UUID(group) if group else None, valid_from=_timestamp(valid_from),
                  valid_to=_timestamp(valid_to), is_active=True, price_list_name=name)
        for list_id, amount, min_quantity, priority, group, valid_from, valid_to, name in offer["lists"]
    ]
    resolution = unit_price(offer["amount"], candidates, quantity, at, groups=groups)
    return PriceLine(variant_id, quantity, offer["currency"], resolution)


_RESOLVE = Statement("""
WITH lines AS (
    SELECT l.variant_id, l.quantity, l.n
    FROM unnest(CAST(:variant_ids AS uuid[]), CAST(:quantities AS int[])) WITH ORDINALITY AS l(variant_id, quantity, n)
), member AS (
    SELECT coalesce(array_agg(m.group_id), '{}') AS group_ids
    FROM customer_group_members m
    WHERE m.customer_id = CAST(:customer_id AS uuid)
)
SELECT l.n, base.amount AS base_amount, base.currency, member.group_ids,
       e.price_list_id, e.min_quantity, e.amount, pl.name, pl.priority, pl.customer_group_id,
       pl.valid_from, pl.valid_to, pl.is_active
FROM lines l
CROSS JOIN member
LEFT JOIN LATERAL (
    SELECT vp.amount, vp.currency
    FROM variant_prices vp
    WHERE vp.variant_id = l.variant_id AND vp.channel_id = :channel_id
      AND (vp.valid_from IS NULL OR vp.valid_from <= :at) AND (vp.valid_to IS NULL OR vp.valid_to > :at)
    ORDER BY vp.amount, vp.id
    LIMIT 1
) base ON true
LEFT JOIN (price_list_entries e JOIN price_lists pl ON pl.id = e.price_list_id)
    ON e.variant_id = l.variant_id AND e.min_quantity <= l.quantity
   AND pl.channel_id = :channel_id AND pl.is_active AND pl.currency = base.currency
ORDER BY l.n
""")


async def resolve_prices(
    session: Executor,
    channel_id: uuid.UUID,
    customer_id: uuid.UUID | None,
    lines: Sequence[tuple[uuid.UUID, int]],
    at: datetime,
) -> list[PriceLine]:
    """Unit prices for `(variant_id, quantity)` lines in the channel for the customer (None: a
    guest), in line order: one statement however many lines. The SQL narrows the candidates to the
    channel's active lists in the base price's currency; `rules.unit_price` makes the choice."""
    errors = [FieldError(f"lines.{i}.quantity", "too_small", "Quantities start at 1.")
              for i, (_, quantity) in enumerate(lines) if quantity < 1]
    if errors:
        raise InvalidPricing(errors)
    if not lines:
        return []
    rows = await _RESOLVE.fetch(
        session, variant_ids=[variant_id for variant_id, _ in lines], quantities=[q for _, q in lines],
        customer_id=customer_id, channel_id=channel_id, at=at)
    base: dict[int, tuple[int | None, str | None]] = {}
    candidates: dict[int, list[Candidate]] = {}
    groups: frozenset[uuid.UUID] = frozenset()
    for row in rows:
        base[row.n] = (row.base_amount, row.currency)
        groups = frozenset(row.group_ids or ())
        if row.price_list_id is not None:
            candidates.setdefault(row.n, []).append(Candidate(
                price_list_id=row.price_list_id, amount=row.amount, min_quantity=row.min_quantity,
                priority=row.priority, customer_group_id=row.customer_group_id, valid_from=row.valid_from,
                valid_to=row.valid_to, is_active=row.is_active, price_list_name=row.name,
            ))
    priced: list[PriceLine] = []
    for n, (variant_id, quantity) in enumerate(lines, start=1):
        amount, currency = base.get(n, (None, None))
        resolution = None
        if amount is not None:
            resolution = unit_price(amount, candidates.get(n, []), quantity, at, groups=groups)
        priced.append(PriceLine(variant_id, quantity, currency, resolution))
    return priced
