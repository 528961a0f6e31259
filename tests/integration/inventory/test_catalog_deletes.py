"""A product or variant whose stock has a history cannot be deleted: the ledger keeps it (409, not 500)."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Variant
from mercato.modules.inventory import stock
from tests.fixtures.auth import staff_token_for
from tests.fixtures.http import bearer
from tests.integration.inventory.factories import make_tracked_variants, make_warehouse


async def test_deleting_what_the_ledger_refers_to_is_refused(client: httpx.AsyncClient, session: AsyncSession,
                                                            settings: Settings) -> None:
    headers = bearer(staff_token_for(settings, ["catalog:read", "catalog:write", "catalog:publish"]))
    [variant, spare] = await make_tracked_variants(session, 2)
    warehouse = await make_warehouse(session)
    await stock.change_on_hand(session, variant_id=variant, warehouse_id=warehouse.id, kind="receipt", delta=3,
                               actor="test")
    product_id = (await session.execute(select(Variant.product_id).where(Variant.id == variant))).scalar_one()
    await session.commit()

    refused = await client.delete(f"/admin/variants/{variant}", headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "catalog.has_stock_history"
    assert (await client.delete(f"/admin/variants/{spare}", headers=headers)).status_code == 204

    archived = await client.post(f"/admin/products/{product_id}/archive", headers=headers)
    assert archived.status_code == 200, archived.text
    refused = await client.delete(f"/admin/products/{product_id}", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "catalog.has_stock_history"
    assert (await session.execute(select(func.count()).select_from(Variant).where(Variant.id == variant))).scalar() == 1
    assert (await session.execute(text("SELECT on_hand FROM stock_levels WHERE variant_id = :v"),
                                  {"v": variant})).scalar_one() == 3
