"""Use cases of the promotions admin: promotions (validated against what they refer to), their
codes (added by hand or generated in bulk), and usage statistics.

The storefront side (loading the promotions a cart may get, checking a coupon, rate limiting
guesses) is in `storefront.py`; counting usage when an order is placed is in `redemption.py`.
Other modules' tables are read by name, as the foreign keys name them, never through their models.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, String, Uuid, column, delete, exists, select, table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.promotions import rules
from mercato.modules.promotions.errors import (
    CodeNotFound,
    CodeTaken,
    InvalidPromotion,
    NotACoupon,
    PromotionInUse,
    PromotionNotFound,
)
from mercato.modules.promotions.models import Promotion, PromotionCode, PromotionRedemption
from mercato.modules.promotions.redemption import recount

MAX_IDS = 1000  # ids per condition list
MAX_CODES_PER_REQUEST = 1000
MAX_GENERATED = 100_000
# A generated batch must use a small part of the possible codes, so guessing one stays hopeless and
# collisions (retried) stay rare.
_SPACE_FACTOR = 10_000

_channels = table("channels", column("id", Uuid()), column("currency", String()))
_currencies = table("currencies", column("code", String()))
_REFERENCED = {
    "products": table("products", column("id", Uuid())),
    "categories": table("categories", column("id", Uuid())),
    "collections": table("collections", column("id", Uuid())),
    "brands": table("brands", column("id", Uuid())),
    "customer_groups": table("customer_groups", column("id", Uuid())),
}
_TARGET_TABLES = {
    "product_ids": "products", "category_ids": "categories", "collection_ids": "collections", "brand_ids": "brands",
    "excluded_product_ids": "products", "excluded_category_ids": "categories",
    "excluded_collection_ids": "collections", "excluded_brand_ids": "brands",
}
# Benefits holding amounts need the promotion to have a currency.
_KINDS_WITH_AMOUNTS = frozenset({"fixed_amount", "fixed_price", "tiered", "bundle"})


# ---------------------------------------------------------------------------------------------
# promotions


@dataclass(frozen=True)
class PromotionData:
    """A promotion's settings; `benefit` and `conditions` in the (already shape-checked) JSON
    form of the admin API."""

    name: str
    trigger: str
    benefit: dict[str, Any]
    conditions: dict[str, Any]
    description: str = ""
    is_active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    channel_ids: Sequence[str] = ()
    currency: str | None = None
    priority: int = 0
    exclusive: bool = False
    stackable: bool = True
    per_customer_limit: int | None = None
    usage_limit: int | None = None
    budget: int | None = None
    max_discount_amount: int | None = None
    max_discount_ppm: int | None = None


@dataclass(frozen=True)
class PromotionFilter:
    trigger: str | None = None
    is_active: bool | None = None
    channel_id: uuid.UUID | None = None
    code: str | None = None
    status: str | None = None  # scheduled | running | ended (of active promotions) | inactive
    now: datetime | None = None


async def list_promotions(
    session: AsyncSession, filters: PromotionFilter, *, limit: int, cursor: str | None
) -> Page[Promotion]:
    """Newest first."""
    stmt = select(Promotion)
    if filters.trigger is not None:
        stmt = stmt.where(Promotion.trigger == filters.trigger)
    if filters.is_active is not None:
        stmt = stmt.where(Promotion.is_active.is_(filters.is_active))
    if filters.channel_id is not None:
        # "every channel" promotions apply to it too
        stmt = stmt.where((Promotion.channel_ids == []) | Promotion.channel_ids.contains([filters.channel_id]))
    if filters.code is not None:
        code = rules.normalize_code(filters.code) or ""
        stmt = stmt.where(Promotion.id.in_(select(PromotionCode.promotion_id).where(PromotionCode.code == code)))
    if filters.status is not None and filters.now is not None:
        now = filters.now
        started = Promotion.starts_at.is_(None) | (Promotion.starts_at <= now)
        not_ended = Promotion.ends_at.is_(None) | (Promotion.ends_at > now)
        stmt = stmt.where({
            "inactive": ~Promotion.is_active,
            "scheduled": Promotion.is_active & ~started,
            "running": Promotion.is_active & started & not_ended,
            "ended": Promotion.is_active & ~not_ended,
        }[filters.status])
    return await keyset_page(session, stmt, [SortKey(Promotion.id, descending=True)], limit=limit, cursor=cursor)


async def get_promotion(session: AsyncSession, promotion_id: str, *, lock: bool = False) -> Promotion:
    parsed = parse_id(promotion_id)
    if parsed is None:
        raise PromotionNotFound()
    stmt = select(Promotion).where(Promotion.id == parsed)
    promotion = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if promotion is None:
        raise PromotionNotFound()
    return promotion


def _ids(values: Sequence[str], field: str, errors: list[FieldError]) -> list[uuid.UUID]:
    parsed: list[uuid.UUID] = []
    for i, raw in enumerate(values):
        value = parse_id(raw)
        if value is None:
            errors.append(FieldError(f"{field}.{i}", "unknown", "Not a known id."))
        else:
            parsed.append(value)
    return parsed


async def _check_references(session: AsyncSession, data: PromotionData, errors: list[FieldError]) -> None:
    """Each id a promotion names exists: one query per kind of thing named."""
    wanted: dict[str, list[tuple[str, str]]] = {}  # table -> (field path, raw id)
    targets = data.conditions.get("targets", {})
    for key, table_name in _TARGET_TABLES.items():
        for i, raw in enumerate(targets.get(key, [])):
            wanted.setdefault(table_name, []).append((f"conditions.targets.{key}.{i}", raw))
    for i, raw in enumerate(data.conditions.get("customer_group_ids", [])):
        wanted.setdefault("customer_groups", []).append((f"conditions.customer_group_ids.{i}", raw))
    if data.benefit.get("kind") == "bundle":
        for i, item in enumerate(data.benefit["items"]):
            wanted.setdefault("products", []).append((f"benefit.items.{i}.product_id", item["product_id"]))
    for table_name, named in wanted.items():
        ref = _REFERENCED[table_name]
        parsed = {raw: parse_id(raw) for _, raw in named}
        valid = [p for p in parsed.values() if p is not None]
        known = set((await session.execute(select(ref.c.id).where(ref.c.id.in_(valid)))).scalars()) if valid else set()
        errors.extend(FieldError(path, "unknown", f"No {table_name.removesuffix('s').replace('_', ' ')} has this id.")
                      for path, raw in named if parsed[raw] not in known)


async def _checked(session: AsyncSession, data: PromotionData, current: Promotion | None = None) -> dict[str, Any]:
    """The promotion's column values, after checking what it refers to exists and fits together."""
    errors: list[FieldError] = []
    channel_ids = _ids(data.channel_ids, "channel_ids", errors)
    channel_currency: dict[uuid.UUID, str] = {}
    if channel_ids:
        channel_currency = {row.id: row.currency for row in (await session.execute(
            select(_channels.c.id, _channels.c.currency).where(_channels.c.id.in_(channel_ids))
        ))}
        errors.extend(FieldError(f"channel_ids.{i}", "unknown", "No channel has this id.")
                      for i, raw in enumerate(data.channel_ids)
                      if parse_id(raw) is not None and parse_id(raw) not in channel_currency)
    currency = data.currency
    needs_currency = (data.benefit.get("kind") in _KINDS_WITH_AMOUNTS or data.conditions.get("min_subtotal") is not None
                      or data.budget is not None or data.max_discount_amount is not None)
    if currency is None and needs_currency:
        shared = set(channel_currency.values())
        if len(shared) == 1 and len(channel_currency) == len(channel_ids) and channel_ids:
            currency = shared.pop()
        else:
            errors.append(FieldError("currency", "required",
                                     "Amounts need a currency (or channels that all sell in one)."))
    if currency is not None:
        if not await session.scalar(select(exists().where(_currencies.c.code == currency))):
            errors.append(FieldError("currency", "unknown", "Not a currency this shop knows."))
        errors.extend(FieldError(f"channel_ids.{i}", "currency_mismatch", f"This channel sells in {sold}.")
                      for i, channel_id in enumerate(channel_ids)
                      if (sold := channel_currency.get(channel_id)) is not None and sold != currency)
    if data.starts_at is not None and data.ends_at is not None and data.starts_at >= data.ends_at:
        errors.append(FieldError("ends_at", "before_start", "ends_at must be after starts_at."))
    if current is not None:
        if data.usage_limit is not None and data.usage_limit < current.uses:
            errors.append(FieldError("usage_limit", "below_uses", f"It has been used {current.uses} times already."))
        if data.budget is not None and data.budget < current.spent:
            errors.append(FieldError("budget", "below_spent", f"It has granted {current.spent} already."))
    await _check_references(session, data, errors)
    if errors:
        raise InvalidPromotion(errors)
    return {
        "name": data.name, "description": data.description, "trigger": data.trigger, "is_active": data.is_active,
        "starts_at": data.starts_at, "ends_at": data.ends_at, "channel_ids": list(dict.fromkeys(channel_ids)),
        "currency": currency, "priority": data.priority, "exclusive": data.exclusive, "stackable": data.stackable,
        "benefit": data.benefit, "conditions": data.conditions, "per_customer_limit": data.per_customer_limit,
        "usage_limit": data.usage_limit, "budget": data.budget, "max_discount_amount": data.max_discount_amount,
        "max_discount_ppm": data.max_discount_ppm,
    }


async def create_promotion(session: AsyncSession, data: PromotionData, *, codes: Sequence[str] = ()) -> Promotion:
    """Create a promotion (and, for a coupon promotion, its first codes: unlimited uses each)."""
    if codes and data.trigger != "coupon":
        raise InvalidPromotion([FieldError("codes", "automatic", "Automatic promotions have no codes.")])
    promotion = Promotion(**await _checked(session, data), version=1, uses=0, spent=0)
    session.add(promotion)
    await session.flush()
    if codes:
        await add_codes(session, promotion, codes, max_uses=None)
    await session.refresh(promotion)
    return promotion


async def update_promotion(session: AsyncSession, promotion: Promotion, data: PromotionData) -> Promotion:
    """Replace a (locked) promotion's settings (the endpoint merges a partial update into `data`)."""
    if data.trigger == "automatic" and promotion.trigger == "coupon" and await session.scalar(
        select(exists().where(PromotionCode.promotion_id == promotion.id))
    ):
        raise NotACoupon()
    if promotion.usage_limit is None and promotion.budget is None:
        # Checkout does not count an unlimited promotion on its row: count it now, under the row
        # lock, so a limit or budget set here starts from what was really used.
        await recount(session, promotion.id)
        await session.refresh(promotion)
    for key, value in (await _checked(session, data, promotion)).items():
        setattr(promotion, key, value)
    promotion.version += 1
    await session.flush()
    await session.refresh(promotion)
    return promotion


async def set_active(session: AsyncSession, promotion: Promotion, active: bool) -> Promotion:
    if promotion.is_active != active:
        promotion.is_active = active
        promotion.version += 1
        await session.flush()
        await session.refresh(promotion)
    return promotion


async def delete_promotion(session: AsyncSession, promotion: Promotion) -> None:
    """Delete a (locked) promotion and its codes; one an order used → 409 (deactivate it instead)."""
    if await session.scalar(select(exists().where(PromotionRedemption.promotion_id == promotion.id))):
        raise PromotionInUse()
    try:
        async with session.begin_nested():
            await session.delete(promotion)
            await session.flush()
    except IntegrityError as exc:  # an order used it meanwhile
        raise PromotionInUse() from exc


# ---------------------------------------------------------------------------------------------
# codes


async def list_codes(
    session: AsyncSession, promotion: Promotion, *, batch_id: uuid.UUID | None = None, used: bool | None = None,
    limit: int, cursor: str | None,
) -> Page[PromotionCode]:
    stmt = select(PromotionCode).where(PromotionCode.promotion_id == promotion.id)
    if batch_id is not None:
        stmt = stmt.where(PromotionCode.batch_id == batch_id)
    if used is not None:
        stmt = stmt.where(PromotionCode.uses > 0 if used else PromotionCode.uses == 0)
    return await keyset_page(session, stmt, [SortKey(PromotionCode.id)], limit=limit, cursor=cursor)


async def code_chunk(
    session: AsyncSession, promotion_id: uuid.UUID, *, batch_id: uuid.UUID | None, after: uuid.UUID | None,
    limit: int,
) -> list[Row[uuid.UUID, str, int | None, int, uuid.UUID | None, datetime]]:
    """Up to `limit` codes (id, code, max_uses, uses, batch_id, created_at) in id order after
    `after`: for exporting all of them in chunks (plain rows: 100,000 ORM objects cost seconds)."""
    stmt = select(PromotionCode.id, PromotionCode.code, PromotionCode.max_uses, PromotionCode.uses,
                  PromotionCode.batch_id, PromotionCode.created_at).where(PromotionCode.promotion_id == promotion_id)
    if batch_id is not None:
        stmt = stmt.where(PromotionCode.batch_id == batch_id)
    if after is not None:
        stmt = stmt.where(PromotionCode.id > after)
    return list((await session.execute(stmt.order_by(PromotionCode.id).limit(limit))).all())


def _require_coupon(promotion: Promotion) -> None:
    if promotion.trigger != "coupon":
        raise NotACoupon()


async def add_codes(
    session: AsyncSession, promotion: Promotion, codes: Sequence[str], *, max_uses: int | None
) -> int:
    """Add codes (already normalised) to a coupon promotion, all or none: a code that exists
    (on any promotion) or is given twice → 409 naming each. Returns the codes added."""
    _require_coupon(promotion)
    seen: set[str] = set()
    errors = []
    for i, code in enumerate(codes):
        if code in seen:
            errors.append(FieldError(f"codes.{i}", "duplicate", "This code is given twice."))
        seen.add(code)
    taken = set((await session.execute(select(PromotionCode.code).where(PromotionCode.code.in_(seen)))).scalars())
    errors += [FieldError(f"codes.{i}", "taken", "This code exists already.")
               for i, c in enumerate(codes) if c in taken]
    if errors:
        raise CodeTaken(errors)
    result = await session.execute(
        insert(PromotionCode)
        .values([{"id": new_id(), "promotion_id": promotion.id, "code": code, "max_uses": max_uses, "uses": 0}
                 for code in codes])
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(PromotionCode.code)
    )
    added = {row.code for row in result}
    if len(added) != len(codes):  # another request took one between the check and the insert
        raise CodeTaken([FieldError(f"codes.{i}", "taken", "This code exists already.")
                         for i, c in enumerate(codes) if c not in added])
    return len(added)


@dataclass(frozen=True)
class Generated:
    batch_id: uuid.UUID
    count: int


_GENERATE = text("""
INSERT INTO promotion_codes (id, promotion_id, code, max_uses, uses, batch_id, created_at)
SELECT g.id, :promotion_id, g.code, :max_uses, 0, :batch_id, now()
FROM unnest(CAST(:ids AS uuid[]), CAST(:codes AS varchar[])) AS g(id, code)
ON CONFLICT (code) DO NOTHING
""")


async def generate_codes(
    session: AsyncSession, promotion: Promotion, *, count: int, prefix: str = "", length: int = 10,
    max_uses: int | None = 1,
) -> Generated:
    """Add `count` new random codes (`prefix` + `length` unambiguous characters) to a coupon
    promotion in one set-based statement; the rare code that exists already is replaced by
    another draw. Too short a length for the count → 422 (codes must stay unguessable)."""
    _require_coupon(promotion)
    prefix = prefix.upper()
    if len(rules.ALPHABET) ** length < count * _SPACE_FACTOR:
        raise InvalidPromotion([FieldError("length", "too_short", "Too few possible codes of this length for "
                                           "this many codes; use longer codes.")])
    if len(prefix) + length > rules.CODE_MAX_LENGTH:
        raise InvalidPromotion([FieldError("prefix", "too_long", "Prefix and length exceed 64 characters.")])
    batch_id = new_id()
    missing = count
    for _ in range(5):
        codes = rules.generate_codes(missing, prefix=prefix, length=length)
        result = await session.execute(_GENERATE, {
            "promotion_id": promotion.id, "max_uses": max_uses, "batch_id": batch_id,
            "ids": [new_id() for _ in codes], "codes": codes,
        })
        missing -= int(result.rowcount)  # type: ignore[attr-defined]
        if missing == 0:
            return Generated(batch_id, count)
    raise InvalidPromotion([FieldError("length", "too_short", "Could not draw enough new codes; use longer codes.")])


async def get_code(session: AsyncSession, promotion: Promotion, code_id: str) -> PromotionCode:
    parsed = parse_id(code_id)
    code = None
    if parsed is not None:
        code = (await session.execute(select(PromotionCode).where(
            PromotionCode.id == parsed, PromotionCode.promotion_id == promotion.id))).scalar_one_or_none()
    if code is None:
        raise CodeNotFound()
    return code


async def delete_code(session: AsyncSession, promotion: Promotion, code_id: str) -> None:
    """Remove a code (orders that used it keep it in their redemption records)."""
    code = await get_code(session, promotion, code_id)
    await session.execute(delete(PromotionCode).where(PromotionCode.id == code.id))


# ---------------------------------------------------------------------------------------------
# statistics


@dataclass(frozen=True)
class PromotionStats:
    promotion: Promotion
    orders: int
    discount_total: int
    customers: int
    last_redeemed_at: datetime | None
    codes: int
    codes_used: int
    codes_used_up: int


_STATS = text("""
SELECT r.orders, r.discount_total, r.customers, r.last_redeemed_at, c.codes, c.codes_used, c.codes_used_up
FROM (SELECT count(*) AS orders, coalesce(sum(amount), 0) AS discount_total,
             count(DISTINCT customer_id) AS customers, max(created_at) AS last_redeemed_at
      FROM promotion_redemptions WHERE promotion_id = :id) r,
     (SELECT count(*) AS codes, count(*) FILTER (WHERE uses > 0) AS codes_used,
             count(*) FILTER (WHERE max_uses IS NOT NULL AND uses >= max_uses) AS codes_used_up
      FROM promotion_codes WHERE promotion_id = :id) c
""")


async def stats(session: AsyncSession, promotion: Promotion) -> PromotionStats:
    row = (await session.execute(_STATS, {"id": promotion.id})).one()
    return PromotionStats(promotion, int(row.orders), int(row.discount_total), int(row.customers),
                          row.last_redeemed_at, int(row.codes), int(row.codes_used), int(row.codes_used_up))
