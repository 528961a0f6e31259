"""pricing.resolve_prices: base prices, group lists, sale lists and tiers, in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import InvalidInput
from mercato.kit.settings import Settings
from mercato.modules import pricing
from mercato.modules.catalog.models import Variant
from mercato.modules.pricing.models import CustomerGroup, CustomerGroupMember, PriceList, PriceListEntry
from tests.integration.catalog.factories import VariantSpec, channel_ids, make_product
from tests.integration.catalog.review_factories import make_customers

AT = datetime(2026, 6, 15, 12, tzinfo=UTC)


async def variants(session: AsyncSession, *prices: int, channel: str = "web-eu") -> list[uuid.UUID]:
    product = await make_product(session, "Mug", variants=[VariantSpec(prices={channel: p}) for p in prices])
    return list((await session.execute(
        select(Variant.id).where(Variant.product_id == product.id).order_by(Variant.position)
    )).scalars())


async def price_list(
    session: AsyncSession, channel_id: uuid.UUID, entries: dict[tuple[uuid.UUID, int], int], **kwargs: Any
) -> PriceList:
    kwargs.setdefault("currency", "EUR")
    made = PriceList(name=kwargs.pop("name", "list"), channel_id=channel_id, **kwargs)
    session.add(made)
    await session.flush()
    session.add_all(PriceListEntry(price_list_id=made.id, variant_id=v, min_quantity=q, amount=a)
                    for (v, q), a in entries.items())
    await session.flush()
    return made


async def test_prices_resolve_per_line_in_one_statement(
    session: AsyncSession, settings: Settings, assert_max_queries: Callable[[int], Any]
) -> None:
    channels = await channel_ids(session)
    eu = channels["web-eu"]
    mug, cup, plate = await variants(session, 1000, 500, 300)
    (us_only,) = await variants(session, 999, channel="web-us")
    gold = CustomerGroup(code="gold", name="Gold")
    session.add(gold)
    jane, guest_like = await make_customers(session, settings, 2)
    await session.flush()
    session.add(CustomerGroupMember(group_id=gold.id, customer_id=jane.id))
    sale = await price_list(session, eu, {(mug, 1): 900, (cup, 1): 450}, name="Sale")
    gold_list = await price_list(session, eu, {(mug, 1): 850, (mug, 10): 700}, name="Gold",
                                 customer_group_id=gold.id, priority=1)
    await price_list(session, eu, {(plate, 1): 1}, name="Expired", valid_to=AT - timedelta(days=1))
    await price_list(session, eu, {(plate, 1): 2}, name="Off", is_active=False)
    await price_list(session, channels["web-us"], {(mug, 1): 3}, name="US", currency="USD")
    await session.flush()

    lines = [(mug, 1), (mug, 10), (cup, 2), (plate, 1), (us_only, 1), (uuid.uuid4(), 1), (mug, 9)]
    with assert_max_queries(1):
        for_jane = await pricing.resolve_prices(session, eu, jane.id, lines, AT)
    with assert_max_queries(1):
        for_guest = await pricing.resolve_prices(session, eu, None, lines, AT)
    with assert_max_queries(1):
        for_other = await pricing.resolve_prices(session, eu, guest_like.id, lines * 20, AT)

    def summary(priced: list[pricing.PriceLine]) -> list[tuple[int, str, uuid.UUID | None] | None]:
        return [(p.resolution.amount, p.resolution.source, p.resolution.price_list_id) if p.resolution else None
                for p in priced]

    assert summary(for_jane) == [
        (850, "price_list", gold_list.id),  # the group's list outranks the sale (priority 1 > 0)
        (700, "price_list", gold_list.id),  # its 10+ tier
        (450, "price_list", sale.id),
        (300, "base", None),  # expired and inactive lists do not apply
        None,  # not priced in this channel
        None,  # unknown variant
        (850, "price_list", gold_list.id),
    ]
    assert summary(for_guest) == [
        (900, "price_list", sale.id), (900, "price_list", sale.id), (450, "price_list", sale.id),
        (300, "base", None), None, None, (900, "price_list", sale.id),
    ]
    assert summary(for_other) == summary(for_guest) * 20
    assert [p.currency for p in for_jane[:4]] == ["EUR"] * 4
    assert [(p.variant_id, p.quantity) for p in for_jane] == lines
    assert for_jane[0].resolution is not None
    assert "'Gold'" in for_jane[0].resolution.explanation


async def test_no_lines_and_bad_quantities(session: AsyncSession) -> None:
    eu = (await channel_ids(session))["web-eu"]
    assert await pricing.resolve_prices(session, eu, None, [], AT) == []
    with pytest.raises(InvalidInput) as caught:
        await pricing.resolve_prices(session, eu, None, [(uuid.uuid4(), 1), (uuid.uuid4(), 0)], AT)
    assert [e.field for e in caught.value.errors] == ["lines.1.quantity"]
