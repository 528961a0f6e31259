"""Promotions and carts for the service tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.modules.promotions import PromoCart, PromoLine
from mercato.modules.promotions.models import Promotion
from mercato.modules.promotions.schemas import ConditionsIn
from mercato.modules.promotions.service import PromotionData, create_promotion

PERCENT_10 = {"kind": "percentage", "rate_ppm": 100_000}


async def make_promotion(session: AsyncSession, *, codes: tuple[str, ...] = (), **fields: Any) -> Promotion:
    """A promotion through the admin service (validated like the API's); 10 % off by default."""
    conditions = ConditionsIn.model_validate(fields.pop("conditions", {})).model_dump(mode="json")
    data = PromotionData(**({"name": "Promo", "trigger": "coupon" if codes else "automatic", "benefit": PERCENT_10}
                            | fields | {"conditions": conditions}))
    return await create_promotion(session, data, codes=codes)


def line(key: str, unit_price: int, quantity: int = 1, **extra: Any) -> PromoLine:
    return PromoLine(key=key, variant_id=uuid.uuid5(uuid.NAMESPACE_OID, key),
                     product_id=extra.pop("product_id", uuid.uuid5(uuid.NAMESPACE_DNS, key)), quantity=quantity,
                     unit_price=unit_price, subtotal=unit_price * quantity, **extra)


def promo_cart(channel_id: uuid.UUID, *lines: PromoLine, currency: str = "EUR", **extra: Any) -> PromoCart:
    return PromoCart.of(lines or (line("a", 1000),), currency=currency, channel_id=channel_id, **extra)
