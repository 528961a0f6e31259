"""Sales channels (web-EU in EUR, web-US in USD, ...) and the currencies they sell in."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from babel import Locale
from babel.numbers import get_currency_name
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache, invalidate_tag
from mercato.kit.clock import utcnow
from mercato.kit.db import after_commit
from mercato.kit.errors import FieldError, InvalidInput
from mercato.kit.ids import parse_id
from mercato.kit.money import exponent, is_currency
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.channels.errors import ChannelCodeTaken, ChannelNotFound, CurrencyFixed
from mercato.modules.channels.models import Channel, Currency

BASE_CURRENCIES = ("EUR", "USD", "GBP", "JPY")
# Checkout holds a buyer's stock this long (refreshed while they are active): long enough to pay,
# short enough that abandoned carts do not hide stock for long. The table's check allows 1 min to 1 day.
DEFAULT_RESERVATION_TTL_S = 900
RESERVATION_TTL_RANGE = (60, 86_400)


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


# ---------------------------------------------------------------------------------------------
# lookup and admin


@dataclass(frozen=True)
class ChannelInfo:
    id: uuid.UUID
    code: str
    name: str
    currency: str
    default_country: str
    countries: tuple[str, ...]
    prices_include_tax: bool
    is_active: bool
    reservation_ttl_s: int = DEFAULT_RESERVATION_TTL_S  # how long checkout holds a buyer's stock


def _info(channel: Channel) -> ChannelInfo:
    return ChannelInfo(
        id=channel.id, code=channel.code, name=channel.name, currency=channel.currency,
        default_country=channel.default_country, countries=tuple(channel.countries),
        prices_include_tax=channel.prices_include_tax, is_active=channel.is_active,
        reservation_ttl_s=channel.reservation_ttl_s,
    )


async def channel_by_code(session: AsyncSession, code: str, *, active_only: bool = True) -> ChannelInfo | None:
    """The channel with this code (by default only an active one), else None. One primary-key-like read."""
    if not 0 < len(code) <= CODE_MAX or "\x00" in code:
        return None
    stmt = select(Channel).where(Channel.code == code)
    if active_only:
        stmt = stmt.where(Channel.is_active.is_(True))
    channel = (await session.execute(stmt)).scalar_one_or_none()
    return _info(channel) if channel is not None else None


CODE_MAX = 50
_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
_COUNTRIES = frozenset(
    k for k in Locale("en").territories
    # ZZ is CLDR's "unknown region", EU/UN/EZ are groupings: none is a country to ship to.
    if isinstance(k, str) and len(k) == 2 and k.isalpha() and k.isupper() and k not in {"ZZ", "EU", "UN", "EZ", "QO"}
)


def _check(code: str | None, currency: str | None, default_country: str | None,
           countries: list[str] | None, reservation_ttl_s: int | None = None) -> None:
    errors: list[FieldError] = []
    low, high = RESERVATION_TTL_RANGE
    if reservation_ttl_s is not None and not low <= reservation_ttl_s <= high:
        errors.append(FieldError("reservation_ttl_s", "out_of_range", f"Between {low} and {high} seconds."))
    if code is not None and not _CODE.match(code):
        errors.append(FieldError("code", "invalid", "Lower-case letters, digits and dashes, at most 50."))
    if currency is not None and not is_currency(currency):
        errors.append(FieldError("currency", "invalid", "Not an ISO 4217 currency code."))
    if default_country is not None and default_country not in _COUNTRIES:
        errors.append(FieldError("default_country", "invalid", "Not an ISO 3166-1 alpha-2 country code."))
    for i, country in enumerate(countries or []):
        if country not in _COUNTRIES:
            errors.append(FieldError(f"countries[{i}]", "invalid", "Not an ISO 3166-1 alpha-2 country code."))
    if errors:
        raise InvalidInput("The channel is not valid.", errors=errors)


async def _ensure_currency(session: AsyncSession, currency: str) -> None:
    await session.execute(
        insert(Currency)
        .values(code=currency, name=get_currency_name(currency, locale="en"), exponent=exponent(currency),
                is_enabled=True)
        .on_conflict_do_nothing()
    )


async def get_channel(session: AsyncSession, ref: str, *, lock: bool = False) -> Channel:
    channel_id = parse_id(ref)
    stmt = select(Channel).where(Channel.id == channel_id)
    if lock:
        stmt = stmt.with_for_update()
    channel = (await session.execute(stmt)).scalar_one_or_none() if channel_id else None
    if channel is None:
        raise ChannelNotFound("No such channel.")
    return channel


@dataclass(frozen=True)
class ChannelFields:
    name: str | None = None
    default_country: str | None = None
    countries: list[str] | None = None
    prices_include_tax: bool | None = None
    is_active: bool | None = None
    reservation_ttl_s: int | None = None


CACHE_TAG = "channels"


def _invalidate_after_commit(session: AsyncSession, cache: Cache) -> None:
    """Other modules key what they cache per channel on this tag's generation (a channel that is
    deactivated must stop serving cached pages), so every change bumps it once committed."""
    after_commit(session, lambda: invalidate_tag(cache, CACHE_TAG))


async def create_channel(
    session: AsyncSession, cache: Cache, *, code: str, currency: str, default_country: str, fields: ChannelFields
) -> Channel:
    _check(code, currency, default_country, fields.countries, fields.reservation_ttl_s)
    if (await session.execute(select(Channel.id).where(Channel.code == code))).first() is not None:
        raise ChannelCodeTaken(f"A channel {code!r} already exists.")
    await _ensure_currency(session, currency)
    now = utcnow()
    channel = Channel(
        id=uuid.uuid4(), code=code, name=fields.name or code, currency=currency,
        default_country=default_country, countries=list(fields.countries or [default_country]),
        prices_include_tax=True if fields.prices_include_tax is None else fields.prices_include_tax,
        is_active=True if fields.is_active is None else fields.is_active,
        reservation_ttl_s=fields.reservation_ttl_s or DEFAULT_RESERVATION_TTL_S, created_at=now, updated_at=now,
    )
    session.add(channel)
    try:
        await session.flush()
    except IntegrityError:
        raise ChannelCodeTaken(f"A channel {code!r} already exists.") from None
    _invalidate_after_commit(session, cache)
    return channel


async def update_channel(
    session: AsyncSession, cache: Cache, channel: Channel, *, currency: str | None, fields: ChannelFields
) -> Channel:
    """Edit the fields sent. The currency is fixed: the channel's prices are amounts in it."""
    if currency is not None and currency != channel.currency:
        raise CurrencyFixed("Prices of this channel are in its currency; create a new channel instead.")
    _check(None, None, fields.default_country, fields.countries, fields.reservation_ttl_s)
    for name in ("name", "default_country", "prices_include_tax", "is_active", "reservation_ttl_s"):
        value = getattr(fields, name)
        if value is not None:
            setattr(channel, name, value)
    if fields.countries is not None:
        channel.countries = list(fields.countries)
    channel.updated_at = utcnow()
    await session.flush()
    _invalidate_after_commit(session, cache)
    return channel
