"""Cart and checkout rows for bench/run.py: a demo variant with stock to spare, and the carts the
rows send requests to — empty carts for add-to-cart, carts ready to pay for checkout — made over
HTTP through the server under test before any measurement, as shoppers would make them.

Each add-to-cart request adds one unit to a different cart (round robin over the empty carts);
each checkout request pays for a cart of its own, so the checkout row needs as many ready carts
as it will send requests (`--checkout-carts`).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

# A German buyer: the demo store ships to DE from Berlin with several methods and charges VAT.
ADDRESS = {"first_name": "Erika", "last_name": "Mustermann", "line1": "Unter den Linden 1", "city": "Berlin",
           "postal_code": "10117", "country_code": "DE"}
UNITS = 1_000_000
CONCURRENCY = 16


def stocked_variants(url: str, channel: str, count: int) -> list[uuid.UUID]:
    """`count` listed, priced variants of the demo store in `channel` (different products), each
    given UNITS more units in a warehouse that serves the channel, so no run ever sells one out."""
    from sqlalchemy import text

    from mercato.kit.db import Database
    from mercato.kit.settings import get_settings
    from mercato.modules.inventory import stock

    async def pick() -> list[uuid.UUID]:
        db = Database.connect(url, get_settings(), pool_size=1, max_overflow=0)
        try:
            async with db.sessionmaker() as session, session.begin():
                rows = (await session.execute(text("""
                    SELECT DISTINCT ON (l.product_id) v.id, w.id FROM product_listings l
                    JOIN channels c ON c.id = l.channel_id AND c.code = :channel
                    JOIN variants v ON v.product_id = l.product_id AND coalesce(v.min_quantity, 1) <= 1
                    JOIN variant_prices vp ON vp.variant_id = v.id AND vp.channel_id = c.id
                    JOIN warehouses w ON w.is_active AND c.id = ANY(w.channel_ids)
                                     AND (cardinality(w.ship_countries) = 0 OR 'DE' = ANY(w.ship_countries))
                    ORDER BY l.product_id, v.id, w.priority LIMIT :count"""),
                    {"channel": channel, "count": count})).all()
                for variant_id, warehouse_id in rows:
                    await stock.change_on_hand(session, variant_id=variant_id, warehouse_id=warehouse_id,
                                               kind="receipt", delta=UNITS, actor="bench")
                return [uuid.UUID(str(row[0])) for row in rows]
        finally:
            await db.dispose()

    return asyncio.run(pick())


def prepare(base_url: str, variants: list[uuid.UUID], directory: Path, *, empty_carts: int,
            checkout_carts: int) -> dict[str, Path]:
    """Files of request paths, one per line: "cart_lines" (POST a line to an empty cart) and
    "checkouts" (POST the checkout of a cart ready to pay; the carts buy `variants` in turn, as
    shoppers buy different products)."""
    lines_file, checkout_file = directory / "cart_lines.txt", directory / "checkouts.txt"
    empty, ready = asyncio.run(_make_carts(base_url, variants, empty_carts, checkout_carts))
    lines_file.write_text("".join(f"/store/carts/{cart}/lines\n" for cart in empty))
    checkout_file.write_text("".join(f"/store/carts/{cart}/checkout\n" for cart in ready))
    return {"cart_lines": lines_file, "checkouts": checkout_file}


async def _make_carts(base_url: str, variants: list[uuid.UUID], empty_carts: int,
                      checkout_carts: int) -> tuple[list[str], list[str]]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def new_cart() -> str:
            async with gate:
                return str(_ok(await http.post("/store/carts"), 201)["id"])

        empty = await asyncio.gather(*(new_cart() for _ in range(empty_carts)))
        if not checkout_carts:
            return list(empty), []
        first = await _ready_cart(http, variants[0], None)
        option = str(_ok(await http.get(f"/store/carts/{first}/shipping-options"))[0]["id"])

        async def ready_cart(n: int) -> str:
            async with gate:
                return await _ready_cart(http, variants[n % len(variants)], option)

        ready = [first, *await asyncio.gather(*(ready_cart(n) for n in range(1, checkout_carts)))]
    return list(empty), ready


async def _ready_cart(http: httpx.AsyncClient, variant: uuid.UUID, option: str | None) -> str:
    cart = str(_ok(await http.post("/store/carts"), 201)["id"])
    _ok(await http.post(f"/store/carts/{cart}/lines", json={"variant_id": str(variant), "quantity": 1}), 201)
    _ok(await http.patch(f"/store/carts/{cart}", json={"email": f"bench-{cart[:8]}@example.com",
                                                        "shipping_address": ADDRESS}))
    if option is None:
        option = str(_ok(await http.get(f"/store/carts/{cart}/shipping-options"))[0]["id"])
    _ok(await http.put(f"/store/carts/{cart}/shipping-option", json={"shipping_option_id": option}))
    return cart


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url} -> {response.status_code}: "
                           f"{response.text[:500]}")
    return response.json()
