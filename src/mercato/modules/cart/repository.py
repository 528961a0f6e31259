"""The cart's reads and writes, each one statement.

`load` reads the cart, its channel, the customer's groups (and whether any of them is tax-exempt),
whether the customer has ever ordered (first-order promotions), every line with what the cart needs of
its variant and product (sku, names, tax class, weight, limits, category path, brand, collections,
whether it is listed in the channel, what it costs there — `pricing.OFFER_SQL`) and the stock the
channel's warehouses can still hand out, plus variants about to be added, and the version of the
automatic promotions (`promotions.AUTOMATIC_VERSION_SQL`): one statement however many lines. Other
modules' tables are read by name in this read-only query, as the storefront reads do, or through
the SQL those modules publish (the inventory rule for which stock counts is
`inventory.storefront`'s: active warehouses serving the channel, shipping to the cart's country
when it has an address).

A change takes the cart's row lock first (`lock`, a statement of its own, see `_LOCK`), or reads
without it and writes optimistically (`save(optimistic=True)`: only if the cart is still at the
version read). `save` writes lines (upserted and deleted) and the cart's own fields in one
statement. All of them go straight to the driver (`kit.sql`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.sql import Executor, Statement
from mercato.modules import pricing, promotions
from mercato.modules.cart.models import Cart

_LOAD = """
WITH cart AS (
    SELECT c.id, c.channel_id, c.currency, c.customer_id, c.status, c.email, c.shipping_address,
           c.billing_address, c.shipping_option_id, c.shipping_quote, c.coupons, c.abandoned_at, c.expires_at,
           c.order_id, c.version, c.created_at, c.updated_at,
           ch.code AS channel_code, ch.currency AS channel_currency, ch.countries, ch.prices_include_tax,
           ch.reservation_ttl_s, ch.default_country,
           %(buyer)s,
           EXISTS (SELECT 1 FROM stock_reservations r WHERE r.reference = 'cart:' || c.id::text) AS reserved,
           %(promotions_version)s AS promotions_version
    FROM carts c JOIN channels ch ON ch.id = c.channel_id%(buyer_join)s
    WHERE c.id = %(id)s
), wanted AS (
    SELECT l.id AS line_id, l.variant_id, l.quantity, l.unit_price AS stored_price, l.created_at AS added_at
    FROM cart_lines l WHERE l.cart_id = %(id)s
    UNION ALL
    SELECT NULL, x.id, 0, NULL, NULL FROM %(extra)s
    WHERE NOT EXISTS (SELECT 1 FROM cart_lines l2 WHERE l2.cart_id = %(id)s AND l2.variant_id = x.id)
), items AS (
    SELECT w.line_id, w.variant_id, w.quantity, w.stored_price, w.added_at,
           v.id IS NOT NULL AS known, v.product_id, v.sku, v.name AS variant_name, p.name AS product_name,
           v.tax_class, coalesce(v.weight_grams, 0) AS weight_grams, v.min_quantity, v.max_quantity,
           v.track_inventory, p.brand_id, cat.path AS category_path,
           coalesce(lst.collection_ids, '{}') AS collection_ids, lst.product_id IS NOT NULL AS listed,
           coalesce(st.free, 0) AS free,
           CASE WHEN v.id IS NOT NULL AND lst.product_id IS NOT NULL THEN %(offer)s END AS offer
    FROM wanted w
    LEFT JOIN variants v ON v.id = w.variant_id
    LEFT JOIN products p ON p.id = v.product_id
    LEFT JOIN categories cat ON cat.id = p.category_id
    LEFT JOIN product_listings lst ON lst.product_id = v.product_id AND lst.channel_id = (SELECT channel_id FROM cart)
    LEFT JOIN LATERAL (
        SELECT sum((SELECT coalesce(sum(b.quota - b.reserved - b.allocated), 0)
                    FROM stock_buckets b WHERE b.stock_id = s.id)
                   -- what this cart itself holds (a checkout that did not complete) is its own to use
                   + (SELECT coalesce(sum(r.quantity), 0) FROM stock_reservations r
                      WHERE r.stock_id = s.id AND r.reference = 'cart:' || CAST(%(id)s AS text))) AS free
        FROM stock_levels s
        JOIN warehouses wh ON wh.id = s.warehouse_id
        WHERE s.variant_id = v.id AND v.track_inventory AND wh.is_active
          AND (SELECT channel_id FROM cart) = ANY(wh.channel_ids)
          AND (cardinality(wh.ship_countries) = 0
               OR (SELECT shipping_address ->> 'country_code' FROM cart) IS NULL
               OR (SELECT shipping_address ->> 'country_code' FROM cart) = ANY(wh.ship_countries))
    ) st ON true
)
SELECT cart.*, items.*
FROM cart LEFT JOIN items ON true
"""
# Who the buyer is: the customer's groups, whether one of them is tax-exempt, their account's
# email, and whether they have ever ordered (a guest cannot prove a first order: only a signed-in
# customer without any order has one).
_CUSTOMER = ("""
           grp.group_ids, grp.tax_exempt,
           (SELECT cu.email FROM customers cu WHERE cu.id = c.customer_id) AS account_email,
           c.customer_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id) AS first_order""", """
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(m.group_id), '{}') AS group_ids,
               coalesce(bool_or(g.tax_exempt), false) AS tax_exempt
        FROM customer_group_members m JOIN customer_groups g ON g.id = m.group_id
        WHERE m.customer_id = c.customer_id
    ) grp""")
# A request without a customer can only use a guest cart (a customer's cart is 404 to it, see
# `service.check_access`), whose buyer is nobody: PostgreSQL is spared those reads.
_GUEST = ("CAST('{}' AS uuid[]) AS group_ids, false AS tax_exempt, CAST(NULL AS text) AS account_email,"
          " false AS first_order", "")


def _load_sql(buyer: tuple[str, str], *, cart: str, extra: str, now: str) -> str:
    """The load for the cart whose id is the SQL expression `cart`, the variants about to be added
    `extra` (a FROM item with a column `id`), prices as at `now`."""
    return _LOAD % {
        "id": cart,
        "extra": extra,
        "buyer": buyer[0],
        "buyer_join": buyer[1],
        "promotions_version": promotions.AUTOMATIC_VERSION_SQL,
        "offer": pricing.OFFER_SQL.format(variant="v.id", channel="(SELECT channel_id FROM cart)", at=now),
    }


def _load_statement(buyer: tuple[str, str]) -> Statement:
    return Statement(_load_sql(buyer, cart=":id", extra="unnest(CAST(:extra AS uuid[])) AS x(id)",
                               now="CAST(:now AS timestamptz)"))


_LOAD_STATEMENT = _load_statement(_CUSTOMER)
_LOAD_GUEST_STATEMENT = _load_statement(_GUEST)
# Many guests' carts in one statement (`load_guests`): the same load for each cart of the list, in
# a LATERAL join. PostgreSQL starts the load's executor once for all of them and the statement's
# round trip is shared, so each cart costs a fraction of a load of its own (a third at four carts,
# measured), which is most of an add-to-cart's database work under load (see `fast_add`).
_LOAD_GUESTS_STATEMENT = Statement(
    "SELECT b.n AS batch_index, x.*\n"
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:extras AS uuid[]), CAST(:nows AS timestamptz[]))\n"
    "     WITH ORDINALITY AS b(id, extra, at, n)\n"
    "CROSS JOIN LATERAL (" + _load_sql(_GUEST, cart="b.id", extra="(SELECT b.extra WHERE b.extra IS NOT NULL) AS x(id)",
                                       now="b.at") + ") x"
)

# Taken before the cart is loaded for a change, in a statement of its own: a load that locked the
# row itself would, after waiting for another change to commit, see that change's cart row (a
# locked row is re-read) but its own, older snapshot of the lines — and write over the change.
# Also plans the rest of the transaction generically: PostgreSQL would re-plan each keyed statement
# of the change on every execution (custom plans win its cost comparison), at several times the cost
# of running it (decision 0013).
_LOCK = Statement("""
SELECT set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_mode,
       EXISTS (SELECT 1 FROM carts WHERE id = :id FOR UPDATE) AS found
""")


@dataclass
class Item:
    """A line of the cart (line_id set) or a variant about to be added (line_id None)."""

    line_id: uuid.UUID | None
    variant_id: uuid.UUID
    quantity: int
    stored_price: int | None
    added_at: datetime | None
    known: bool
    product_id: uuid.UUID | None
    sku: str
    name: str
    tax_class: str
    weight_grams: int
    min_quantity: int
    max_quantity: int | None
    track_inventory: bool
    brand_id: uuid.UUID | None
    category_path: str | None
    collection_ids: frozenset[uuid.UUID]
    listed: bool
    free: int
    offer: dict[str, Any] | None  # pricing.OFFER_SQL as read with the cart (listed variants only)


@dataclass
class CartState:
    """A cart as loaded, changed in memory by the service, then saved."""

    id: uuid.UUID
    channel_id: uuid.UUID
    channel_code: str
    currency: str
    channel_currency: str
    countries: tuple[str, ...]
    default_country: str
    prices_include_tax: bool
    reservation_ttl_s: int
    customer_id: uuid.UUID | None
    status: str
    email: str | None
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_option_id: str | None
    shipping_quote: dict[str, Any] | None
    coupons: list[str]
    expires_at: datetime
    order_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    group_ids: frozenset[uuid.UUID]
    tax_exempt: bool  # in a tax-exempt customer group (B2B with a VAT id)
    first_order: bool  # a signed-in customer who has no order yet
    account_email: str | None  # the customer's own address: the order's when the cart names none
    reserved: bool
    promotions_version: str  # promotions.AUTOMATIC_VERSION_SQL as read with the cart
    items: list[Item] = field(default_factory=list)

    @property
    def lines(self) -> list[Item]:
        return [item for item in self.items if item.line_id is not None]

    @property
    def order_email(self) -> str | None:
        """Where the order's mail goes: the cart's email, else the signed-in customer's own."""
        return self.email or self.account_email

    @property
    def country(self) -> str | None:
        return self.shipping_address.get("country_code") if self.shipping_address else None

    def item_for(self, variant_id: uuid.UUID) -> Item | None:
        for item in self.items:
            if item.variant_id == variant_id:
                return item
        return None


def _item(row: Any) -> Item:
    # Columns by key: `Row.__getattr__` runs only after the ordinary attribute lookup has failed,
    # which over the fifty-odd columns of a load cost ~30 µs of CPU per add-to-cart (measured).
    name = row["variant_name"] or ""
    product_name = row["product_name"]
    if product_name and name and name != product_name and not name.startswith(product_name):
        name = f"{product_name} – {name}"
    return Item(
        line_id=row["line_id"], variant_id=row["variant_id"], quantity=row["quantity"],
        stored_price=row["stored_price"], added_at=row["added_at"], known=row["known"],
        product_id=row["product_id"], sku=row["sku"] or "", name=name or product_name or "",
        tax_class=row["tax_class"] or "standard", weight_grams=row["weight_grams"],
        min_quantity=row["min_quantity"] or 1, max_quantity=row["max_quantity"],
        track_inventory=bool(row["track_inventory"]), brand_id=row["brand_id"], category_path=row["category_path"],
        collection_ids=frozenset(row["collection_ids"] or ()), listed=bool(row["listed"]), free=int(row["free"]),
        offer=row["offer"],
    )


async def lock(db: Executor, cart_id: uuid.UUID) -> None:
    """Lock the cart's row until the transaction ends (every locked change takes it first, then
    loads), and plan the transaction's statements generically."""
    await _LOCK.fetch(db, id=cart_id)


async def load(db: Executor, cart_id: uuid.UUID, *, now: datetime, extra: Sequence[uuid.UUID] = (),
               for_guest: bool = False) -> CartState | None:
    """The cart with everything pricing and validation need (see the module doc), its variants'
    prices as at `now`; None when there is no such cart. `for_guest`: the caller is no customer,
    so a cart it may use has no buyer to read (no groups, no first order)."""
    statement = _LOAD_GUEST_STATEMENT if for_guest else _LOAD_STATEMENT
    return _state(await statement.fetch(db, id=cart_id, extra=list(extra), now=now))


@dataclass(frozen=True)
class GuestLoad:
    """One cart of `load_guests`: its id, the variant about to be added (if any), prices as at `now`."""

    cart_id: uuid.UUID
    extra: uuid.UUID | None
    now: datetime


async def load_guests(db: Executor, loads: Sequence[GuestLoad]) -> list[CartState | None]:
    """`load(..., for_guest=True)` of each cart in `loads`, in one statement; in their order."""
    rows = await _LOAD_GUESTS_STATEMENT.fetch(
        db, ids=[load.cart_id for load in loads], extras=[load.extra for load in loads],
        nows=[load.now for load in loads])
    per_cart: list[list[Any]] = [[] for _ in loads]
    for row in rows:
        per_cart[row["batch_index"] - 1].append(row)
    return [_state(cart_rows) for cart_rows in per_cart]


def _state(rows: Sequence[Any]) -> CartState | None:
    if not rows:
        return None
    first = rows[0]
    state = CartState(
        id=first["id"], channel_id=first["channel_id"], channel_code=first["channel_code"],
        currency=first["currency"], channel_currency=first["channel_currency"],
        countries=tuple(first["countries"] or ()), default_country=first["default_country"],
        prices_include_tax=first["prices_include_tax"], reservation_ttl_s=first["reservation_ttl_s"],
        customer_id=first["customer_id"], status=first["status"], email=first["email"],
        shipping_address=first["shipping_address"], billing_address=first["billing_address"],
        shipping_option_id=first["shipping_option_id"], shipping_quote=first["shipping_quote"],
        coupons=list(first["coupons"] or ()), expires_at=first["expires_at"], order_id=first["order_id"],
        version=first["version"], created_at=first["created_at"], updated_at=first["updated_at"],
        group_ids=frozenset(first["group_ids"] or ()), tax_exempt=bool(first["tax_exempt"]),
        first_order=bool(first["first_order"]), account_email=first["account_email"],
        reserved=bool(first["reserved"]),
        promotions_version=first["promotions_version"],
    )
    state.items = [_item(row) for row in rows if row["variant_id"] is not None]
    # Lines in the order they were added, then the variants about to be: sorted here, as a sort of
    # the statement's wide rows cost PostgreSQL ~10 µs per load (measured).
    state.items.sort(key=_added_order)
    return state


def _added_order(item: Item) -> tuple[bool, datetime | None, uuid.UUID | None]:
    return item.added_at is None, item.added_at, item.line_id


# The lines are written only when the cart row is: with an expected version, a cart changed since
# it was read (or closed by a checkout) is left as it is, and the caller learns it from the count.
_SAVE_CART = """
WITH saved AS (
    UPDATE carts SET customer_id = :customer_id, email = :email, shipping_address = :shipping_address,
           billing_address = :billing_address, shipping_option_id = :shipping_option_id,
           shipping_quote = :shipping_quote, coupons = CAST(:coupons AS varchar[]), abandoned_at = NULL,
           expires_at = :expires_at, updated_at = :now, version = version + 1
    WHERE id = :id
      AND (CAST(:expected_version AS int) IS NULL OR (version = :expected_version AND status = 'active'))
    RETURNING id
)"""
_SAVE_UPSERTS = """, up AS (
    INSERT INTO cart_lines (id, cart_id, variant_id, quantity, unit_price, created_at, updated_at)
    SELECT u.id, :id, u.variant_id, u.quantity, u.unit_price, :now, :now
    FROM unnest(CAST(:up_ids AS uuid[]), CAST(:up_variants AS uuid[]), CAST(:up_quantities AS int[]),
                CAST(:up_prices AS bigint[])) AS u(id, variant_id, quantity, unit_price)
    WHERE EXISTS (SELECT 1 FROM saved)
    ON CONFLICT (cart_id, variant_id) DO UPDATE
        SET quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price, updated_at = EXCLUDED.updated_at
)"""
_SAVE_DELETES = """, gone AS (
    DELETE FROM cart_lines WHERE cart_id = :id AND id = ANY(CAST(:gone_ids AS uuid[]))
                             AND EXISTS (SELECT 1 FROM saved)
)"""
_SAVE_COUNT = "\nSELECT (SELECT count(*) FROM saved)"
# A cart change that is a transaction of its own may commit without waiting for its WAL to reach
# the disk (decision 0014): `synchronous_commit` is off for this statement's transaction only.
_UNFLUSHED = " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"


@functools.cache
def _save_statement(*, upserts: bool, deletes: bool, unflushed: bool) -> Statement:
    """The save as one statement, with only the parts a change needs: PostgreSQL prepares and runs
    every part of a statement, empty or not (an empty delete cost ~8 µs of its CPU per add)."""
    parts = [_SAVE_CART, _SAVE_UPSERTS if upserts else "", _SAVE_DELETES if deletes else "", _SAVE_COUNT,
             _UNFLUSHED if unflushed else ""]
    return Statement("".join(parts), json=("shipping_address", "billing_address", "shipping_quote"))


@dataclass(frozen=True)
class LineWrite:
    id: uuid.UUID
    variant_id: uuid.UUID
    quantity: int
    unit_price: int


async def save(db: Executor, state: CartState, *, now: datetime, upserts: Sequence[LineWrite] = (),
               deletes: Sequence[uuid.UUID] = (), optimistic: bool = False) -> bool:
    """Write the lines changed and the cart's fields as `state` holds them: the cart is locked, or
    (`optimistic`) was read at `state.version` and is written only if it is still at that version
    and active. Returns whether it was written.

    An optimistic save is a transaction of its own (a bare connection in autocommit): it commits
    without waiting for the disk (decision 0014)."""
    statement = _save_statement(upserts=bool(upserts), deletes=bool(deletes), unflushed=optimistic)
    lines: dict[str, Any] = {}
    if upserts:
        lines.update(up_ids=[w.id for w in upserts], up_variants=[w.variant_id for w in upserts],
                     up_quantities=[w.quantity for w in upserts], up_prices=[w.unit_price for w in upserts])
    if deletes:
        lines.update(gone_ids=list(deletes))
    saved = await statement.fetchval(
        db, id=state.id, now=now, customer_id=state.customer_id, email=state.email,
        shipping_address=state.shipping_address, billing_address=state.billing_address,
        shipping_option_id=state.shipping_option_id, shipping_quote=state.shipping_quote,
        coupons=state.coupons, expires_at=state.expires_at,
        expected_version=state.version if optimistic else None, **lines,
    )
    if not saved:
        return False
    state.updated_at = now
    state.version += 1
    return True


async def insert_cart(session: AsyncSession, cart: Cart) -> bool:
    """Insert a new cart; False when the customer already has an active cart in the channel (a
    concurrent create won)."""
    result = await session.execute(
        insert(Cart).values(
            id=cart.id, channel_id=cart.channel_id, currency=cart.currency, customer_id=cart.customer_id,
            status="active", coupons=[], expires_at=cart.expires_at, version=1,
            created_at=cart.created_at, updated_at=cart.updated_at,
        ).on_conflict_do_nothing(
            index_elements=["customer_id", "channel_id"],
            index_where=text("status = 'active' AND customer_id IS NOT NULL"),
        ).returning(Cart.id)
    )
    return result.first() is not None


async def active_cart_of(session: AsyncSession, customer_id: uuid.UUID, channel_id: uuid.UUID,
                         now: datetime) -> uuid.UUID | None:
    """The customer's active cart in the channel; an expired one (the purge job has not run yet)
    is deleted here so a new one can take its place."""
    row = (await session.execute(text("""
        SELECT id, expires_at FROM carts
        WHERE customer_id = :c AND channel_id = :ch AND status = 'active'"""),
        {"c": customer_id, "ch": channel_id})).first()
    if row is None:
        return None
    if row.expires_at <= now:
        await session.execute(text("DELETE FROM carts WHERE id = :id"), {"id": row.id})
        return None
    found: uuid.UUID = row.id
    return found


async def attach_if_free(session: AsyncSession, cart_id: uuid.UUID, customer_id: uuid.UUID,
                         channel_id: uuid.UUID) -> uuid.UUID | None:
    """A signed-in shopper goes on with the cart they filled as a guest: it becomes theirs, unless
    they have an active cart in the channel already (then `POST /store/carts/{id}/merge` joins the
    two). Returns the cart's customer afterwards (None: still a guest cart). A cart of theirs made
    at this very moment elsewhere wins; the unique index says so, and this cart stays a guest's."""
    try:
        async with session.begin_nested():
            attached = (await session.execute(text("""
                UPDATE carts SET customer_id = :c
                WHERE id = :id AND customer_id IS NULL
                  AND NOT EXISTS (SELECT 1 FROM carts o WHERE o.customer_id = :c AND o.channel_id = :ch
                                                          AND o.status = 'active')
                RETURNING customer_id"""), {"id": cart_id, "c": customer_id, "ch": channel_id})).first()
    except IntegrityError:
        return None
    return customer_id if attached is not None else None
