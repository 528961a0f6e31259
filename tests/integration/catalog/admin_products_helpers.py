"""Helpers for the admin product API tests: tokens by role and a product created over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import channel_ids

EDITOR = ["catalog:read", "catalog:write"]
MANAGER = ["catalog:read", "catalog:write", "catalog:publish"]


def auth(settings: Settings, permissions: list[str]) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, permissions)}"}


async def seed_channels(session: AsyncSession) -> None:
    await channel_ids(session)
    await session.commit()


def variant(sku: str, *, eur: int | None = 1999, **extra: Any) -> dict[str, Any]:
    prices = [{"channel": "web-eu", "amount": eur, "currency": "EUR"}] if eur is not None else []
    return {"sku": sku, "name": f"Variant {sku}", "track_inventory": False, "prices": prices, **extra}


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> httpx.Response:
    body = {"name": "Linen shirt", **fields}
    return await client.post("/admin/products", json=body, headers=headers)


async def created(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await create(client, headers, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["_etag"] = response.headers["etag"]
    return body
