from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules import channels
from mercato.modules.channels.models import Channel, Currency
from tests.fixtures.auth import staff_token_for


async def test_seed_is_idempotent(session: AsyncSession) -> None:
    first = await channels.seed_base(session)
    second = await channels.seed_base(session)
    assert first == len(channels.BASE_CHANNELS) + 4
    assert second == 0
    currencies = dict((await session.execute(select(Currency.code, Currency.exponent))).all())
    assert currencies == {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0}
    assert await session.scalar(select(func.count()).select_from(Channel)) == len(channels.BASE_CHANNELS)


async def test_admin_lists_channels_page_by_page_in_one_query_each(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, assert_max_queries: Callable[[int], object]
) -> None:
    await channels.seed_base(session)
    await session.commit()
    headers = {"authorization": f"Bearer {staff_token}"}
    # The first request of a session fills the revocation cache (one primary-key read); later ones
    # spend no query on authentication.
    assert (await client.get("/admin/channels", params={"limit": "1"}, headers=headers)).status_code == 200
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        with assert_max_queries(1):  # type: ignore[attr-defined]
            response = await client.get("/admin/channels", params=params, headers=headers)
        assert response.status_code == 200
        body = response.json()
        seen.extend(item["code"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(c.code for c in channels.BASE_CHANNELS)


async def test_listing_channels_needs_the_permission(client: httpx.AsyncClient, settings: Settings) -> None:
    token = staff_token_for(settings, ["orders:read"])
    response = await client.get("/admin/channels", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden"
