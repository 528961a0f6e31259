"""Concurrent subtree moves on a committed database: the tree never gets a cycle, never a 500."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Category
from tests.fixtures.auth import staff_token_for
from tests.fixtures.live import Live
from tests.fixtures.test_session import install_test_session
from tests.integration.catalog.factories import make_category


async def test_crossing_moves_never_make_a_cycle(live: Live, settings: Settings) -> None:
    install_test_session(live.db.engine.url.render_as_string(hide_password=False))  # staff session behind tokens
    headers = {"authorization": f"Bearer {staff_token_for(settings, ['catalog:read', 'catalog:write'])}"}
    async with live.db.sessionmaker() as s, s.begin():
        a = await make_category(s, "A", slug="race-a")
        a2 = await make_category(s, "A2", parent=a, slug="race-a2")
        b = await make_category(s, "B", slug="race-b")
        b2 = await make_category(s, "B2", parent=b, slug="race-b2")

    for _ in range(5):
        # A under B's child and B under A's child at once: only one can win.
        results = await asyncio.gather(
            live.client.post(f"/admin/categories/{a.id}/move", json={"parent_id": str(b2.id)}, headers=headers),
            live.client.post(f"/admin/categories/{b.id}/move", json={"parent_id": str(a2.id)}, headers=headers),
        )
        statuses = Counter(r.status_code for r in results)
        assert statuses == {200: 1, 409: 1}, [r.text for r in results]
        assert {r.json()["code"] for r in results if r.status_code == 409} == {"catalog.category_cycle"}
        async with live.db.sessionmaker() as s:
            rows = {c.id: c for c in (await s.execute(select(Category))).scalars()}
        for c in rows.values():  # every path is the chain of parents down to the node
            chain, node = [], c
            while node is not None:
                chain.append(str(node.id))
                node = rows.get(node.parent_id) if node.parent_id else None
                assert len(chain) <= len(rows)
            assert c.path == "/".join(reversed(chain))
            assert c.depth == len(chain) - 1
        # Back to two roots for the next round.
        for category in (a, b):
            response = await live.client.post(f"/admin/categories/{category.id}/move", json={"parent_id": None},
                                              headers=headers)
            assert response.status_code == 200
