"""The revision trail: list, snapshot, diff between two revisions, and revert of fields, variants and prices."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.integration.catalog.admin_products_helpers import MANAGER, auth, created, seed_channels, variant


async def test_revert_restores_variants_and_prices(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    await seed_channels(session)
    headers = auth(settings, MANAGER)
    product = await created(client, headers, name="Lamp", tags=["home"],
                            variants=[variant("LAMP-1", eur=5000), variant("LAMP-2", eur=6000)])
    pid = product["id"]
    v1, v2 = product["variants"][0]["id"], product["variants"][1]["id"]
    assert (await client.post(f"/admin/products/{pid}/publish", headers=headers)).status_code == 200  # v2

    # Version 3..6: rename, delete LAMP-2, add LAMP-3, reprice LAMP-1.
    await client.patch(f"/admin/products/{pid}", headers=headers, json={"name": "Desk lamp", "tags": []})
    await client.delete(f"/admin/variants/{v2}", headers=headers)
    added = await client.post(f"/admin/products/{pid}/variants", headers=headers, json=variant("LAMP-3", eur=10))
    await client.put(f"/admin/variants/{v1}/prices", headers=headers,
                     json={"prices": [{"channel": "web-eu", "amount": 4500, "currency": "EUR"}]})
    current = await client.get(f"/admin/products/{pid}", headers=headers)
    assert current.json()["version"] == 6

    diff = await client.get(f"/admin/products/{pid}/revisions/6/diff", params={"against": 2}, headers=headers)
    assert diff.status_code == 200, diff.text
    changes = diff.json()["changes"]
    assert changes["name"] == {"from": "Lamp", "to": "Desk lamp"}
    assert changes["tags"] == {"from": ["home"], "to": []}
    assert changes["variants[LAMP-2]"]["to"] is None
    assert changes["variants[LAMP-3]"]["from"] is None
    [price_change] = [k for k in changes if k.startswith("variants[LAMP-1].prices")]
    assert price_change.endswith("].amount")
    assert changes[price_change] == {"from": 5000, "to": 4500}
    default = await client.get(f"/admin/products/{pid}/revisions/3/diff", headers=headers)
    assert default.json()["against"] == 2
    assert set(default.json()["changes"]) == {"name", "tags"}

    snapshot = (await client.get(f"/admin/products/{pid}/revisions/2", headers=headers)).json()
    assert snapshot["action"] == "publish"
    assert snapshot["snapshot"]["name"] == "Lamp"

    reverted = await client.post(f"/admin/products/{pid}/revisions/2/revert",
                                 headers={**headers, "if-match": current.headers["etag"]},
                                 json={"comment": "Undo the redesign"})
    assert reverted.status_code == 200, reverted.text
    body = reverted.json()
    assert body["name"] == "Lamp"
    assert body["tags"] == ["home"]
    assert body["status"] == "published"
    assert body["version"] == 7
    assert [(v["id"], v["sku"], [p["amount"] for p in v["prices"]]) for v in body["variants"]] == [
        (v1, "LAMP-1", [5000]), (v2, "LAMP-2", [6000])]
    assert (await client.get(f"/admin/variants/{added.json()['id']}", headers=headers)).status_code == 404
    revision = (await client.get(f"/admin/products/{pid}/revisions/7", headers=headers)).json()
    assert revision["action"] == "revert"
    assert revision["comment"] == "Reverted to version 2: Undo the redesign"
    # The snapshot after the revert equals the one reverted to, except the status history.
    assert (await client.get(f"/admin/products/{pid}/revisions/7/diff", params={"against": 2},
                             headers=headers)).json()["changes"] == {}
    store = (await client.get(f"/store/products/{pid}")).json()
    assert store["name"] == "Lamp"
    assert store["price"]["amount"] == 5000

    # A stale If-Match is refused and changes nothing.
    stale = await client.post(f"/admin/products/{pid}/revisions/1/revert",
                              headers={**headers, "if-match": current.headers["etag"]})
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition.stale")
    assert (await client.get(f"/admin/products/{pid}", headers=headers)).json()["version"] == 7


async def test_revert_refuses_a_sku_taken_since(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    await seed_channels(session)
    headers = auth(settings, MANAGER)
    product = await created(client, headers, variants=[variant("OLD-1"), variant("KEEP-1")])
    pid = product["id"]
    await client.delete(f"/admin/variants/{product['variants'][0]['id']}", headers=headers)
    await created(client, headers, name="Thief", variants=[variant("OLD-1")])
    refused = await client.post(f"/admin/products/{pid}/revisions/1/revert", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "catalog.sku_taken")
    after = (await client.get(f"/admin/products/{pid}", headers=headers)).json()
    assert after["version"] == 2
    assert [v["sku"] for v in after["variants"]] == ["KEEP-1"]


async def test_swapped_skus_revert_cleanly(client: httpx.AsyncClient, session: AsyncSession,
                                           settings: Settings) -> None:
    await seed_channels(session)
    headers = auth(settings, MANAGER)
    product = await created(client, headers, variants=[variant("S-A"), variant("S-B")])
    a, b = (v["id"] for v in product["variants"])
    await client.patch(f"/admin/variants/{a}", headers=headers, json={"sku": "S-TMP"})
    await client.patch(f"/admin/variants/{b}", headers=headers, json={"sku": "S-A"})
    await client.patch(f"/admin/variants/{a}", headers=headers, json={"sku": "S-B"})
    reverted = await client.post(f"/admin/products/{product['id']}/revisions/1/revert", headers=headers)
    assert reverted.status_code == 200, reverted.text
    assert {v["id"]: v["sku"] for v in reverted.json()["variants"]} == {a: "S-A", b: "S-B"}


async def test_revision_reads_not_found_and_paging(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    headers = auth(settings, MANAGER)
    product = await created(client, headers)
    pid = product["id"]
    for n in range(3):
        await client.patch(f"/admin/products/{pid}", headers=headers, json={"name": f"Name {n}"})
    page = (await client.get(f"/admin/products/{pid}/revisions", params={"limit": 3}, headers=headers)).json()
    assert [r["version"] for r in page["items"]] == [4, 3, 2]
    rest = (await client.get(f"/admin/products/{pid}/revisions", params={"cursor": page["next_cursor"]},
                             headers=headers)).json()
    assert [r["version"] for r in rest["items"]] == [1]
    assert rest["next_cursor"] is None
    for url, code in [
        (f"/admin/products/{pid}/revisions/9", "catalog.revision_not_found"),
        (f"/admin/products/{pid}/revisions/4/diff?against=9", "catalog.revision_not_found"),
        ("/admin/products/nope/revisions", "catalog.product_not_found"),
    ]:
        response = await client.get(url, headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, code), url
    refused = await client.post(f"/admin/products/{pid}/revisions/9/revert", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (404, "catalog.revision_not_found")
    assert (await client.get(f"/admin/products/{pid}/revisions/x", headers=headers)).status_code == 422
