"""What the cart and checkout call: load the promotions a cart may get (`active_promotions`),
check a coupon a shopper enters (`check_code`), and keep guessing codes slow (`guard_coupon`,
`count_coupon_failure`, or both around the check: `check_code_guarded`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.ratelimit import RateLimiter
from mercato.kit.sql import Executor, Statement
from mercato.modules.promotions import rules
from mercato.modules.promotions.errors import CouponRateLimited, CouponRejected

# Automatic promotions running in the channel, plus the promotions owning the codes asked for
# (whatever their state, so the engine can say why a code does not apply), each with: the codes
# asked for among its own, the customer's uses, and the current paths of the categories it names.
_ACTIVE = Statement("""
SELECT p.id, p.name, p.trigger, p.is_active, p.starts_at, p.ends_at, p.channel_ids, p.currency, p.priority,
       p.exclusive, p.stackable, p.benefit, p.conditions, p.per_customer_limit, p.usage_limit, p.uses,
       p.budget, p.spent, p.max_discount_amount, p.max_discount_ppm,
       coalesce(cu.uses, 0) AS customer_uses,
       coalesce((SELECT jsonb_agg(jsonb_build_array(c.code, c.max_uses, c.uses))
                 FROM promotion_codes c
                 WHERE c.promotion_id = p.id AND c.code = ANY(CAST(:codes AS varchar[]))), '[]') AS codes,
       coalesce((SELECT jsonb_object_agg(cat.id::text, cat.path)
                 FROM categories cat
                 WHERE cat.id IN (SELECT CAST(x AS uuid) FROM jsonb_array_elements_text(
                     coalesce(p.conditions #> '{targets,category_ids}', '[]')
                     || coalesce(p.conditions #> '{targets,excluded_category_ids}', '[]')) AS x)), '{}')
           AS category_paths
FROM promotions p
LEFT JOIN promotion_customer_uses cu ON cu.promotion_id = p.id AND cu.customer_id = CAST(:customer_id AS uuid)
WHERE (p.is_active AND p.trigger = 'automatic'
       AND (CAST(:any_time AS boolean)
            OR ((p.starts_at IS NULL OR p.starts_at <= :now) AND (p.ends_at IS NULL OR p.ends_at > :now)))
       AND (p.channel_ids = '{}' OR CAST(:channel_id AS uuid) = ANY(p.channel_ids)))
   OR p.id IN (SELECT c.promotion_id FROM promotion_codes c WHERE c.code = ANY(CAST(:codes AS varchar[])))
""")


def _uuids(values: Iterable[str]) -> frozenset[uuid.UUID]:
    return frozenset(uuid.UUID(v) for v in values)


def benefit_from(doc: Mapping[str, Any]) -> rules.Benefit:
    """The engine's benefit from its stored JSON (shape checked when it was written)."""
    match doc["kind"]:
        case "percentage":
            return rules.Percentage(doc["rate_ppm"])
        case "fixed_amount":
            return rules.FixedAmount(doc["amount"], doc.get("per", "order"))
        case "fixed_price":
            return rules.FixedPrice(doc["amount"])
        case "buy_x_get_y":
            return rules.BuyXGetY(doc["buy"], doc["get"], doc.get("rate_ppm", rules.PPM), doc.get("max_applications"))
        case "tiered":
            return rules.Tiered(tuple(rules.Tier(t["threshold"], t["amount"]) for t in doc["tiers"]))
        case "free_shipping":
            return rules.FreeShipping()
        case "bundle":
            return rules.Bundle(tuple(rules.BundleItem(uuid.UUID(i["product_id"]), i.get("quantity", 1))
                                      for i in doc["items"]), doc["price"])
    raise ValueError(f"unknown benefit kind {doc['kind']!r}")


def targets_from(doc: Mapping[str, Any], paths: Mapping[str, str]) -> rules.Targets:
    """The engine's targets; a category that no longer exists gets a path no line has."""

    def category_paths(key: str) -> frozenset[str]:
        return frozenset(paths.get(c, f"!missing/{c}") for c in doc.get(key, []))

    return rules.Targets(
        product_ids=_uuids(doc.get("product_ids", [])), category_paths=category_paths("category_ids"),
        collection_ids=_uuids(doc.get("collection_ids", [])), brand_ids=_uuids(doc.get("brand_ids", [])),
        excluded_product_ids=_uuids(doc.get("excluded_product_ids", [])),
        excluded_category_paths=category_paths("excluded_category_ids"),
        excluded_collection_ids=_uuids(doc.get("excluded_collection_ids", [])),
        excluded_brand_ids=_uuids(doc.get("excluded_brand_ids", [])),
    )


def _promotion_from(row: Any) -> rules.Promotion:
    conditions: Mapping[str, Any] = row.conditions or {}
    return rules.Promotion(
        id=row.id, name=row.name, benefit=benefit_from(row.benefit), trigger=row.trigger,
        codes={code: rules.CodeState(code, max_uses, uses) for code, max_uses, uses in row.codes},
        currency=row.currency, priority=row.priority, exclusive=row.exclusive, stackable=row.stackable,
        is_active=row.is_active, starts_at=row.starts_at, ends_at=row.ends_at,
        channel_ids=frozenset(row.channel_ids or ()),
        targets=targets_from(conditions.get("targets", {}), row.category_paths),
        min_subtotal=conditions.get("min_subtotal"), min_quantity=conditions.get("min_quantity"),
        customer_group_ids=_uuids(conditions.get("customer_group_ids", [])),
        first_order_only=bool(conditions.get("first_order_only", False)),
        per_customer_limit=row.per_customer_limit, customer_uses=row.customer_uses, usage_limit=row.usage_limit,
        uses=row.uses, budget=row.budget, spent=row.spent, max_discount_amount=row.max_discount_amount,
        max_discount_ppm=row.max_discount_ppm,
    )


def normalized_codes(codes: Iterable[str]) -> frozenset[str]:
    """The codes in canonical form (those that cannot be codes are kept as given: they are
    reported as not found)."""
    return frozenset(rules.normalize_code(c) or c for c in codes)


# A signature of the automatic promotions as committed: it changes whenever one is inserted,
# updated (every new row version has a new xmin — counters included) or deleted, whichever
# transaction commits first. Readers of a cart select it with the cart (`version=` below), so a
# guest's cart can be priced with the promotions this process already holds, at no statement.
AUTOMATIC_VERSION_SQL = ("(SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM promotions"
                         " WHERE trigger = 'automatic')")
# Category paths inside the held promotions are not covered by the signature (a category moved):
# held promotions are read again after this long whatever the signature says.
_HELD_FOR_S = 60.0
_held: dict[uuid.UUID, tuple[str, float, list[rules.Promotion]]] = {}


async def active_promotions(
    session: Executor,
    *,
    channel_id: uuid.UUID,
    codes: frozenset[str],
    now: datetime,
    customer_id: uuid.UUID | None = None,
    version: str | None = None,
) -> list[rules.Promotion]:
    """The automatic promotions running in the channel at `now` and the promotions owning `codes`
    (in any state: `rules.evaluate` says why one does not apply), in one statement. Give the
    customer to have per-customer limits checked against their uses (without: a guest).

    `version` (AUTOMATIC_VERSION_SQL, as read with the cart): for a guest without codes, the
    channel's automatic promotions held by this process since that version are returned without a
    statement (all of them, whatever their dates: `rules.evaluate` checks the window). Not for the
    checkout, which re-reads everything in its own transaction."""
    if version is not None and not codes and customer_id is None:
        held = _held.get(channel_id)
        if held is not None and held[0] == version and time.monotonic() - held[1] < _HELD_FOR_S:
            return held[2]
        rows = await _ACTIVE.fetch(session, channel_id=channel_id, codes=[], now=now, customer_id=None,
                                   any_time=True)
        promotions = sorted((_promotion_from(row) for row in rows), key=lambda p: p.id)
        _held[channel_id] = (version, time.monotonic(), promotions)
        return promotions
    wanted = sorted(c for c in (rules.normalize_code(c) for c in codes) if c is not None)
    rows = await _ACTIVE.fetch(session, channel_id=channel_id, codes=wanted, now=now, customer_id=customer_id,
                               any_time=False)
    return sorted((_promotion_from(row) for row in rows), key=lambda p: p.id)


async def check_code(
    session: AsyncSession,
    code: str,
    *,
    cart: rules.PromoCart,
    now: datetime,
    codes: frozenset[str] = frozenset(),
    max_total_discount: rules.DiscountCap | None = None,
) -> rules.PromoResult:
    """Evaluate `cart` with `code` added to the `codes` it carries; the code not applying raises
    CouponRejected (422, `code` the reason: promotion.not_found, promotion.expired ...). Returns
    the evaluation (the cart keeps the code then; another code may now be the one refused, e.g.
    when the new one is exclusive — see `PromoResult.rejections`)."""
    normalized = rules.normalize_code(code)
    if normalized is None:
        raise CouponRejected(rules.NOT_FOUND, "No promotion has this code.", coupon=code.strip())
    all_codes = normalized_codes(codes) | {normalized}
    promotions = await active_promotions(session, channel_id=cart.channel_id, codes=all_codes, now=now,
                                         customer_id=cart.customer_id)
    result = rules.evaluate(cart, promotions, codes=all_codes, now=now, max_total_discount=max_total_discount)
    rejection = result.rejections.get(normalized)
    if rejection is not None:
        raise CouponRejected(rejection.reason, rejection.message, coupon=normalized)
    return result


_FAILURES = "promotion.coupon_failures"


async def guard_coupon(limiter: RateLimiter, client_key: str, *, rule: str) -> None:
    """Refuse (429 `promotion.rate_limited`, with Retry-After) a client that entered too many codes
    that did not work within the window of `rule` (e.g. settings.rate_limit_coupon). Call before
    looking a code up; `count_coupon_failure` after one did not work."""
    decision = await limiter.peek(rule, _FAILURES, client_key)
    if not decision.allowed:
        raise CouponRateLimited(decision.retry_after_s)


async def count_coupon_failure(limiter: RateLimiter, client_key: str, *, rule: str) -> None:
    await limiter.hit(rule, _FAILURES, client_key)


async def check_code_guarded(
    session: AsyncSession,
    limiter: RateLimiter,
    code: str,
    *,
    client_key: str,
    rule: str,
    cart: rules.PromoCart,
    now: datetime,
    codes: frozenset[str] = frozenset(),
    max_total_discount: rules.DiscountCap | None = None,
) -> rules.PromoResult:
    """`check_code` behind the guessing guard: every code that does not apply (unknown, expired,
    ineligible alike — a refusal of any kind tells a guesser the code exists) counts against the
    client (`client_key`: e.g. the client IP; the cart endpoint may add the cart id)."""
    await guard_coupon(limiter, client_key, rule=rule)
    try:
        return await check_code(session, code, cart=cart, now=now, codes=codes,
                                max_total_discount=max_total_discount)
    except CouponRejected:
        await count_coupon_failure(limiter, client_key, rule=rule)
        raise
