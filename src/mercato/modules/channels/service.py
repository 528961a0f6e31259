"""Sales channels (web-EU in EUR, web-US in USD, ...) and the currencies they sell in."""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import get_currency_name
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.money import exponent
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.channels.models import Channel, Currency

BASE_CURRENCIES = ("EUR", "USD", "GBP", "JPY")


@dataclass(frozen=True)
class ChannelSeed:
    code: str
    name: str
    currency: str
    default_country: str
    countries: tuple[str, ...]
    prices_include_tax: bool


BASE_CHANNELS = (
    ChannelSeed("web-eu", "Web store (Europe)", "EUR", "DE", ("DE", "FR", "NL", "BE", "AT", "IT", "ES"), True),
    ChannelSeed("web-us", "Web store (United States)", "USD", "US", ("US",), False),
    ChannelSeed("web-gb", "Web store (United Kingdom)", "GBP", "GB", ("GB",), True),
)


async def seed_base(session: AsyncSession) -> int:
    """Create the base currencies and channels; re-running changes nothing. Returns rows added."""
    added = 0
    for code in BASE_CURRENCIES:
        result = await session.execute(
            insert(Currency)
            .values(code=code, name=get_currency_name(code, locale="en"), exponent=exponent(code),
                    is_enabled=True)
            .on_conflict_do_nothing()
            .returning(Currency.code)
        )
        added += len(result.all())
    for seed in BASE_CHANNELS:
        result = await session.execute(
            insert(Channel)
            .values(code=seed.code, name=seed.name, currency=seed.currency,
                    default_country=seed.default_country, countries=list(seed.countries),
                    prices_include_tax=seed.prices_include_tax, is_active=True)
            .on_conflict_do_nothing(index_elements=[Channel.code])
            .returning(Channel.id)
        )
        added += len(result.all())
    return added


async def list_channels(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Channel]:
    return await keyset_page(session, select(Channel), [SortKey(Channel.code)], limit=limit, cursor=cursor)
