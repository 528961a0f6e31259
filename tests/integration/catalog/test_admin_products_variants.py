"""Variants and channel prices over the admin API: each write bumps the product's version,
records a revision and refreshes the listing; refused input changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from tests.integration.catalog.admin_products_helpers import MANAGER, auth, created, seed_channels, variant


async def _published(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    product = await created(client, headers, name="Mug", variants=[variant("MUG-1", eur=1000)])
    response = await client.post(f"/admin/products/{product['id']}/publish", headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    body["_etag"] = response.headers["etag"]
    return body


async def test_variant_lifecycle(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    await seed_channels(session)
    headers = auth(settings, MANAGER)
    product = await _published(client, headers)
    pid = product["id"]

    added = await client.post(f"/admin/products/{pid}/variants", headers={**headers, "if-match": product["_etag"]},
                              json=variant("MUG-2", eur=800, gtin="4006381333931", weight_grams=350))
    assert added.status_code == 201, added.text
    new = added.json()
    assert new["position"] == 1
    assert new["gtin"] == "4006381333931"
    assert added.headers["location"] == f"/admin/variants/{new['id']}"
    fetched = await client.get(f"/admin/variants/{new['id']}", headers=headers)
    assert fetched.json() == new
    assert fetched.headers["etag"] == added.headers["etag"]
    assert (await client.get(f"/store/products/{pid}")).json()["price"]["amount"] == 800

    # The product's old ETag is stale for variant writes too.
    stale = await client.patch(f"/admin/variants/{new['id']}", headers={**headers, "if-match": product["_etag"]},
                               json={"name": "Nope"})
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition.stale")

    patched = await client.patch(f"/admin/variants/{new['id']}", headers={**headers, "if-match": added.headers["etag"]},
                                 json={"name": "Big mug", "max_quantity": 3, "gtin": None})
    assert patched.status_code == 200, patched.text
    assert patched.json() | {"prices": None} == new | {"prices": None, "name": "Big mug", "max_quantity": 3,
                                                      "gtin": None}

    priced = await client.put(f"/admin/variants/{new['id']}/prices",
                              headers={**headers, "if-match": patched.headers["etag"]}, json={"prices": [
                                  {"channel": "web-eu", "amount": 700, "currency": "EUR", "compare_at_amount": 900},
                                  {"channel": "web-us", "amount": 850, "currency": "usd"}]})
    assert priced.status_code == 200, priced.text
    assert sorted((p["channel"], p["amount"], p["currency"]) for p in priced.json()["prices"]) == [
        ("web-eu", 700, "EUR"), ("web-us", 850, "USD")]
    store = (await client.get(f"/store/products/{pid}")).json()
    assert store["price"]["amount"] == 700
    assert (await client.get(f"/store/products/{pid}", params={"channel": "web-us"})).json()["price"]["amount"] == 850

    gone = await client.delete(f"/admin/variants/{new['id']}", headers=headers)
    assert gone.status_code == 204
    assert (await client.get(f"/admin/variants/{new['id']}", headers=headers)).status_code == 404
    assert (await client.get(f"/store/products/{pid}")).json()["price"]["amount"] == 1000
    assert (await client.get(f"/store/products/{pid}", params={"channel": "web-us"})).status_code == 404

    trail = (await client.get(f"/admin/products/{pid}/revisions", headers=headers)).json()["items"]
    assert [r["action"] for r in trail] == ["variant_delete", "prices", "variant_update", "variant_create",
                                            "publish", "create"]
    assert trail[2]["changes"] == {
        "variants[MUG-2].name": {"from": "Variant MUG-2", "to": "Big mug"},
        "variants[MUG-2].max_quantity": {"from": None, "to": 3},
        "variants[MUG-2].gtin": {"from": "4006381333931", "to": None},
    }
    final = await client.get(f"/admin/products/{pid}", headers=headers)
    assert final.json()["version"] == trail[0]["version"] == 6


async def test_variant_and_price_refusals_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings,
) -> None:
    await seed_channels(session)
    headers = auth(settings, MANAGER)
    product = await created(client, headers, variants=[variant("A-1"), variant("A-2")])
    pid, vid = product["id"], product["variants"][1]["id"]
    before = await client.get(f"/admin/products/{pid}", headers=headers)

    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", f"/admin/products/{pid}/variants", variant("A-1"), 409, "catalog.sku_taken"),
        ("POST", f"/admin/products/{pid}/variants", variant("A-9", min_quantity=3, max_quantity=2), 422,
         "catalog.invalid_quantity"),
        ("POST", f"/admin/products/{pid}/variants", {"sku": "A-9"}, 422, "validation.invalid"),
        ("POST", "/admin/products/00000000-0000-7000-8000-00000000abcd/variants", variant("A-9"), 404,
         "catalog.product_not_found"),
        ("PATCH", f"/admin/variants/{vid}", {"sku": "A-1"}, 409, "catalog.sku_taken"),
        ("PATCH", f"/admin/variants/{vid}", {"max_quantity": 0}, 422, "validation.invalid"),
        ("PATCH", f"/admin/variants/{vid}", {"min_quantity": 5, "max_quantity": 4}, 422, "catalog.invalid_quantity"),
        ("PATCH", f"/admin/variants/{vid}", {"sku": None}, 422, "validation.invalid"),
        ("PATCH", "/admin/variants/nope", {"name": "x"}, 404, "catalog.variant_not_found"),
        ("PUT", f"/admin/variants/{vid}/prices", {"prices": [{"channel": "web-eu", "amount": 5, "currency": "USD"}]},
         422, "catalog.currency_mismatch"),
        ("PUT", f"/admin/variants/{vid}/prices", {"prices": [{"channel": "nowhere", "amount": 5, "currency": "EUR"}]},
         422, "catalog.unknown_channel"),
        ("PUT", f"/admin/variants/{vid}/prices", {"prices": [{"channel": "web-eu", "amount": -5, "currency": "EUR"}]},
         422, "validation.invalid"),
        ("PUT", f"/admin/variants/{vid}/prices", {"prices": [
            {"channel": "web-eu", "amount": 5, "currency": "EUR", "compare_at_amount": 4}]}, 422,
         "catalog.invalid_price"),
        ("PUT", f"/admin/variants/{vid}/prices", {"prices": [
            {"channel": "web-eu", "amount": 5, "currency": "EUR", "valid_from": "2030-01-01T00:00:00Z",
             "valid_to": "2030-01-01T00:00:00Z"}]}, 422, "catalog.invalid_price"),
        ("PUT", f"/admin/variants/{vid}/prices", {"prices": [
            {"channel": "web-eu", "amount": 5, "currency": "EUR", "valid_to": "2030-06-01T00:00:00Z"},
            {"channel": "web-eu", "amount": 6, "currency": "EUR", "valid_from": "2030-05-01T00:00:00Z"}]}, 422,
         "catalog.price_overlap"),
        ("DELETE", "/admin/variants/00000000-0000-7000-8000-00000000abcd", {}, 404, "catalog.variant_not_found"),
    ]
    for method, url, body, status, code in cases:
        response = await client.request(method, url, headers=headers, json=body or None)
        assert (response.status_code, response.json()["code"]) == (status, code), (method, url, body, response.text)
    after = await client.get(f"/admin/products/{pid}", headers=headers)
    assert after.json() == before.json()

    # Back-to-back windows in one channel are fine (scheduled price change).
    ok = await client.put(f"/admin/variants/{vid}/prices", headers=headers, json={"prices": [
        {"channel": product["variants"][0]["prices"][0]["channel_id"], "amount": 5, "currency": "EUR",
         "valid_to": "2030-06-01T00:00:00Z"},
        {"channel": "web-eu", "amount": 6, "currency": "EUR", "valid_from": "2030-06-01T00:00:00Z"}]})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["prices"]) == 2
