"""Optimistic concurrency under real concurrency: a committed database and a real connection pool, so
two PATCHes holding the same ETag are two transactions racing for the product row."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import text

from mercato.kit.settings import Settings
from tests.fixtures.live import Live
from tests.fixtures.test_session import install_test_session
from tests.integration.catalog.admin_products_helpers import EDITOR, auth, created


def _staff_session(live: Live) -> None:
    """A fresh database has no staff session behind the test tokens yet."""
    install_test_session(live.db.engine.url.render_as_string(hide_password=False))


async def test_two_writers_with_one_etag_one_wins(live: Live, settings: Settings) -> None:
    _staff_session(live)
    headers = auth(settings, EDITOR)
    product = await created(live.client, headers, name="Contested")
    url = f"/admin/products/{product['id']}"
    etag = product["_etag"]
    for round_ in range(5):
        responses = await asyncio.gather(*(
            live.client.patch(url, headers={**headers, "if-match": etag}, json={"name": f"Writer {round_}-{n}"})
            for n in range(2)
        ))
        assert Counter(r.status_code for r in responses) == {200: 1, 412: 1}, [r.text for r in responses]
        [winner] = [r for r in responses if r.status_code == 200]
        [loser] = [r for r in responses if r.status_code == 412]
        assert loser.json()["code"] == "precondition.stale"
        current = await live.client.get(url, headers=headers)
        assert current.json()["name"] == winner.json()["name"]
        assert current.json()["version"] == round_ + 2
        etag = current.headers["etag"]
    async with live.db.sessionmaker() as s:
        versions = (await s.execute(text("SELECT version FROM product_revisions WHERE product_id = :id"
                                         " ORDER BY version"), {"id": product["id"]})).scalars().all()
    assert versions == [1, 2, 3, 4, 5, 6]


async def test_concurrent_variant_writes_each_get_their_own_version(live: Live, settings: Settings) -> None:
    _staff_session(live)
    headers = auth(settings, EDITOR)
    product = await created(live.client, headers, name="Busy")
    url = f"/admin/products/{product['id']}/variants"
    responses = await asyncio.gather(*(
        live.client.post(url, headers=headers, json={"sku": f"BUSY-{n}", "name": f"Busy {n}"}) for n in range(6)
    ))
    assert [r.status_code for r in responses] == [201] * 6
    async with live.db.sessionmaker() as s:
        versions = (await s.execute(text("SELECT version FROM product_revisions WHERE product_id = :id"
                                         " ORDER BY version"), {"id": product["id"]})).scalars().all()
    assert versions == list(range(1, 8))


async def test_concurrent_creates_with_one_slug_and_sku(live: Live, settings: Settings) -> None:
    _staff_session(live)
    headers = auth(settings, EDITOR)
    responses = await asyncio.gather(*(
        live.client.post("/admin/products", headers=headers,
                         json={"name": f"Twin {n}", "slug": "twin", "variants": [{"sku": f"TWIN-{n}", "name": "x"}]})
        for n in range(4)
    ))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 3}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"catalog.slug_taken"}
    responses = await asyncio.gather(*(
        live.client.post("/admin/products", headers=headers,
                         json={"name": f"Other {n}", "variants": [{"sku": "SAME-SKU", "name": "x"}]})
        for n in range(4)
    ))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 3}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"catalog.sku_taken"}
