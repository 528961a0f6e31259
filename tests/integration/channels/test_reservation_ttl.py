"""A channel's reservation TTL (how long checkout holds a buyer's stock): shown, set and edited through
/admin/channels, within 60..86400 seconds, and read by other modules through `ChannelInfo`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import MemoryCache
from mercato.kit.errors import InvalidInput
from mercato.modules import channels
from mercato.modules.channels import service
from mercato.modules.channels.models import Channel

NEW = {"code": "web-ch", "name": "Web store (Switzerland)", "currency": "CHF", "default_country": "CH"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_defaults_to_fifteen_minutes_and_is_shown_everywhere(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    await channels.seed_base(session)
    await session.commit()
    listed = await client.get("/admin/channels", headers=bearer(staff_token))
    assert {item["code"]: item["reservation_ttl_s"] for item in listed.json()["items"]} == {
        "web-eu": 900, "web-us": 900, "web-gb": 900}
    created = await client.post("/admin/channels", json=NEW, headers=bearer(staff_token))
    assert created.status_code == 201, created.text
    assert created.json()["reservation_ttl_s"] == 900
    info = await channels.channel_by_code(session, "web-eu")
    assert info is not None
    assert info.reservation_ttl_s == 900


async def test_set_on_create_and_edited_with_if_match(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str
) -> None:
    created = await client.post("/admin/channels", json={**NEW, "reservation_ttl_s": 120}, headers=bearer(staff_token))
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    assert created.json()["reservation_ttl_s"] == 120

    changed = await client.patch(f"/admin/channels/{channel_id}", json={"reservation_ttl_s": 86400},
                                 headers={**bearer(staff_token), "if-match": created.headers["etag"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["reservation_ttl_s"] == 86400
    assert changed.headers["etag"] != created.headers["etag"]
    info = await channels.channel_by_code(session, "web-ch")
    assert info is not None
    assert info.reservation_ttl_s == 86400
    # Another edit leaves the TTL alone.
    renamed = await client.patch(f"/admin/channels/{channel_id}", json={"name": "CH"}, headers=bearer(staff_token))
    assert (renamed.json()["name"], renamed.json()["reservation_ttl_s"]) == ("CH", 86400)
    fetched = await client.get(f"/admin/channels/{channel_id}", headers=bearer(staff_token))
    assert fetched.json()["reservation_ttl_s"] == 86400
    # Bounds are inclusive.
    shortest = await client.patch(f"/admin/channels/{channel_id}", json={"reservation_ttl_s": 60},
                                  headers=bearer(staff_token))
    assert shortest.json()["reservation_ttl_s"] == 60


@pytest.mark.parametrize("ttl", [59, 0, -1, 86401, 10**12, "soon", 90.5])
async def test_out_of_range_is_422_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, staff_token: str, ttl: Any
) -> None:
    await channels.seed_base(session)
    await session.commit()
    eu = await channels.channel_by_code(session, "web-eu")
    assert eu is not None
    created = await client.post("/admin/channels", json={**NEW, "reservation_ttl_s": ttl}, headers=bearer(staff_token))
    assert created.status_code == 422, created.text
    assert created.json()["code"] == "validation.invalid"
    assert "reservation_ttl_s" in [e["field"] for e in created.json()["errors"]]
    assert await channels.channel_by_code(session, "web-ch", active_only=False) is None
    patched = await client.patch(f"/admin/channels/{eu.id}", json={"reservation_ttl_s": ttl},
                                 headers=bearer(staff_token))
    assert patched.status_code == 422, patched.text
    assert "reservation_ttl_s" in [e["field"] for e in patched.json()["errors"]]
    session.expire_all()
    assert await session.scalar(select(Channel.reservation_ttl_s).where(Channel.id == eu.id)) == 900


async def test_the_service_checks_the_range_too(session: AsyncSession) -> None:
    await channels.seed_base(session)
    channel = (await session.execute(select(Channel).where(Channel.code == "web-us"))).scalar_one()
    with pytest.raises(InvalidInput) as refused:
        await service.update_channel(session, MemoryCache(), channel, currency=None,
                                     fields=service.ChannelFields(reservation_ttl_s=30))
    assert [e.field for e in refused.value.errors] == ["reservation_ttl_s"]
    with pytest.raises(InvalidInput):
        await service.create_channel(session, MemoryCache(), code="web-x", currency="EUR", default_country="DE",
                                     fields=service.ChannelFields(reservation_ttl_s=86_401))
    await session.refresh(channel)
    assert channel.reservation_ttl_s == 900
