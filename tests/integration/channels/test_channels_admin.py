"""/admin/channels writes, read permissions and the public `channel_by_code` lookup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules import channels
from mercato.modules.channels.models import Channel, Currency
from tests.fixtures.auth import staff_token_for


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


NEW = {"code": "web-ch", "name": "Web store (Switzerland)", "currency": "CHF", "default_country": "CH",
       "countries": ["CH", "LI"], "prices_include_tax": True}


async def test_reads_take_settings_or_catalog_read_and_writes_settings_manage(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await channels.seed_base(session)
    await session.commit()
    for permission in ("settings:read", "catalog:read"):
        response = await client.get("/admin/channels", headers=bearer(staff_token_for(settings, [permission])))
        assert response.status_code == 200
    for permissions in (["settings:read", "catalog:write"], ["orders:read"]):
        response = await client.post("/admin/channels", json=NEW, headers=bearer(staff_token_for(settings,
                                                                                                permissions)))
        assert response.status_code == 403
    assert (await client.post("/admin/channels", json=NEW)).status_code == 401
    assert await session.scalar(select(func.count()).select_from(Channel)) == len(channels.BASE_CHANNELS)


async def test_create_update_and_lookup(client: httpx.AsyncClient, session: AsyncSession, staff_token: str) -> None:
    admin = bearer(staff_token)
    created = await client.post("/admin/channels", json=NEW, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["currency"], body["countries"]) == ("web-ch", "CHF", ["CH", "LI"])
    assert await session.scalar(select(Currency.exponent).where(Currency.code == "CHF")) == 2
    info = await channels.channel_by_code(session, "web-ch")
    assert info is not None
    assert (str(info.id), info.currency) == (body["id"], "CHF")

    taken = await client.post("/admin/channels", json={**NEW, "name": "Other"}, headers=admin)
    assert taken.status_code == 409
    assert taken.json()["code"] == "channel.code_taken"

    etag = created.headers["etag"]
    changed = await client.patch(f"/admin/channels/{body['id']}", json={"is_active": False, "name": "CH"},
                                 headers={**admin, "if-match": etag})
    assert changed.status_code == 200
    assert (changed.json()["is_active"], changed.json()["name"]) == (False, "CH")
    stale = await client.patch(f"/admin/channels/{body['id']}", json={"name": "X"}, headers={**admin, "if-match": etag})
    assert stale.status_code == 412
    currency = await client.patch(f"/admin/channels/{body['id']}", json={"currency": "EUR"}, headers=admin)
    assert currency.status_code == 409
    assert currency.json()["code"] == "channel.currency_fixed"
    assert await channels.channel_by_code(session, "web-ch") is None  # inactive
    assert await channels.channel_by_code(session, "web-ch", active_only=False) is not None
    assert await channels.channel_by_code(session, "x" * 51) is None
    unknown = await client.get("/store/products", params={"channel": "web-ch"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "catalog.unknown_channel"
    missing = await client.get("/admin/channels/not-an-id", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "channel.not_found"


@pytest.mark.parametrize(("change", "field"), [
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "eur"}, "currency"),
    ({"default_country": "XX"}, "default_country"),
    ({"countries": ["DE", "ZZ"]}, "countries[1]"),
    ({"code": "Web EU"}, "code"),
    ({"code": "-web"}, "code"),
])
async def test_bad_channels_are_422(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/admin/channels", json={**NEW, **change}, headers=bearer(staff_token))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation.invalid"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await session.scalar(select(func.count()).select_from(Channel)) == 0
