"""The database itself refuses what the cart tables' column rules forbid (decision 0016: domains
instead of CHECK constraints, same rules), whatever writes the row."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.cart.rules import HARD_MAX_QUANTITY
from tests.integration.cart.helpers import Shop, add, make_shop, new_cart


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    return await make_shop(session)


async def _refused(session: AsyncSession, sql: str, params: dict[str, Any]) -> str:
    with pytest.raises(IntegrityError) as raised:
        async with session.begin_nested():
            await session.execute(text(sql), params)
    return str(raised.value)


async def test_status_quantity_and_unit_price_are_checked_by_the_database(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop,
) -> None:
    cart = await new_cart(client)
    line = (await add(client, cart["id"], shop.mug, 2)).json()["lines"][0]
    ids = {"cart": cart["id"], "line": line["id"]}

    assert "cart_status" in await _refused(session, "UPDATE carts SET status = 'lost' WHERE id = :cart", ids)
    for quantity in (0, HARD_MAX_QUANTITY + 1):
        assert "cart_line_quantity" in await _refused(
            session, "UPDATE cart_lines SET quantity = :q WHERE id = :line", {**ids, "q": quantity})
    assert "cart_line_unit_price" in await _refused(
        session, "UPDATE cart_lines SET unit_price = -1 WHERE id = :line", ids)

    # What the rules allow goes through, and the refusals above changed nothing.
    await session.execute(text("UPDATE cart_lines SET quantity = :q WHERE id = :line"),
                          {**ids, "q": HARD_MAX_QUANTITY})
    row = (await session.execute(text(
        "SELECT c.status, l.quantity, l.unit_price FROM carts c JOIN cart_lines l ON l.cart_id = c.id "
        "WHERE l.id = :line"), ids)).one()
    assert (row.status, row.quantity, row.unit_price) == ("active", HARD_MAX_QUANTITY, 1000)
