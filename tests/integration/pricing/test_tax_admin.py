"""/admin/tax/classes, /admin/tax/zones and /admin/tax/lookup over HTTP: CRUD, validation (status,
code, and nothing changed), permissions and If-Match."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Variant
from mercato.modules.pricing.tax_models import TaxClass, TaxZone, TaxZoneRate
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import VariantSpec, make_product

BUILT_IN = ["exempt", "reduced", "standard", "super_reduced", "zero"]  # inserted by the migration


def bearer(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    return bearer(settings, "settings:read", "settings:manage")


@pytest.fixture
def reader(settings: Settings) -> dict[str, str]:
    return bearer(settings, "settings:read")


def de_zone(**overrides: Any) -> dict[str, Any]:
    return {"code": "de", "name": "Germany", "country": "DE",
            "rates": [{"tax_class": "standard", "rate_ppm": 190_000, "name": "DE VAT 19%"},
                      {"tax_class": "reduced", "rate_ppm": 70_000, "name": "DE VAT 7%"}], **overrides}


# ---------------------------------------------------------------------------------------------
# classes


async def test_class_crud_with_etags(client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]) -> None:
    listed = (await client.get("/admin/tax/classes", headers=admin)).json()
    assert [c["code"] for c in listed["items"]] == BUILT_IN
    assert {c["code"] for c in listed["items"] if c["built_in"]} == {"standard", "zero", "exempt"}

    created = await client.post("/admin/tax/classes", headers=admin,
                                json={"code": "books", "name": "Books", "description": "Printed books"})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/admin/tax/classes/books"
    assert created.json()["built_in"] is False
    dup = await client.post("/admin/tax/classes", headers=admin, json={"code": "books", "name": "Again"})
    assert (dup.status_code, dup.json()["code"]) == (409, "tax.class_code_taken")

    etag = created.headers["etag"]
    renamed = await client.patch("/admin/tax/classes/books", headers={**admin, "if-match": etag},
                                 json={"name": "Books and e-books"})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["description"], renamed.json()["version"]) == \
        ("Books and e-books", "Printed books", 2)
    stale = await client.patch("/admin/tax/classes/books", headers={**admin, "if-match": etag}, json={"name": "x"})
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition.stale")
    cleared = await client.patch("/admin/tax/classes/books", headers=admin, json={"description": None})
    assert cleared.json()["description"] is None
    assert cleared.json()["name"] == "Books and e-books"

    page = (await client.get("/admin/tax/classes", headers=admin, params={"limit": 2})).json()
    assert [c["code"] for c in page["items"]] == ["books", "exempt"]
    rest = (await client.get("/admin/tax/classes", headers=admin, params={"cursor": page["next_cursor"]})).json()
    assert [c["code"] for c in rest["items"]] == ["reduced", "standard", "super_reduced", "zero"]

    got = await client.get("/admin/tax/classes/books", headers=admin)
    stale_delete = await client.delete("/admin/tax/classes/books", headers={**admin, "if-match": etag})
    assert stale_delete.status_code == 412
    deleted = await client.delete("/admin/tax/classes/books", headers={**admin, "if-match": got.headers["etag"]})
    assert deleted.status_code == 204
    missing = await client.get("/admin/tax/classes/books", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "tax.class_not_found")
    assert await count(session, TaxClass) == len(BUILT_IN)


@pytest.mark.parametrize("payload", [
    {"code": "", "name": "x"}, {"code": "Has Space", "name": "x"}, {"code": "a" * 21, "name": "x"},
    {"code": "ok", "name": ""}, {"code": "ok"}, {"code": "ok", "name": "x", "extra": 1},
])
async def test_bad_classes_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], payload: dict[str, Any]
) -> None:
    response = await client.post("/admin/tax/classes", headers=admin, json=payload)
    assert (response.status_code, response.json()["code"]) == (422, "validation.invalid")
    assert await count(session, TaxClass) == len(BUILT_IN)


async def test_built_in_and_used_classes_cannot_be_deleted(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    for code in ("standard", "zero", "exempt"):
        refused = await client.delete(f"/admin/tax/classes/{code}", headers=admin)
        assert (refused.status_code, refused.json()["code"]) == (409, "tax.class_in_use")
    await client.post("/admin/tax/classes", headers=admin, json={"code": "books", "name": "Books"})
    product = await make_product(session, "Novel", variants=[VariantSpec()])
    await session.execute(update(Variant).where(Variant.product_id == product.id).values(tax_class="books"))
    await session.commit()
    used = await client.delete("/admin/tax/classes/books", headers=admin)
    assert (used.status_code, used.json()["code"]) == (409, "tax.class_in_use")
    assert "Variants use" in used.json()["detail"]
    assert await count(session, TaxClass) == len(BUILT_IN) + 1
    # an unused custom class goes, and its rates with it
    await client.post("/admin/tax/classes", headers=admin, json={"code": "wine", "name": "Wine"})
    zone = (await client.post("/admin/tax/zones", headers=admin, json=de_zone(rates=[
        {"tax_class": "wine", "rate_ppm": 190_000, "name": "DE VAT 19%"}]))).json()
    assert (await client.delete("/admin/tax/classes/wine", headers=admin)).status_code == 204
    assert (await client.get(f"/admin/tax/zones/{zone['id']}", headers=admin)).json()["rates"] == []


# ---------------------------------------------------------------------------------------------
# zones


async def test_zone_crud_with_rates_and_etags(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    created = await client.post("/admin/tax/zones", headers=admin, json=de_zone())
    assert created.status_code == 201, created.text
    zone = created.json()
    assert created.headers["location"] == f"/admin/tax/zones/{zone['id']}"
    assert (zone["country"], zone["region"], zone["postcode_prefix"], zone["version"]) == ("DE", None, None, 1)
    assert [(r["tax_class"], r["rate_ppm"], r["percent"], r["name"]) for r in zone["rates"]] == [
        ("reduced", 70_000, "7%", "DE VAT 7%"), ("standard", 190_000, "19%", "DE VAT 19%")]

    etag = created.headers["etag"]
    url = f"/admin/tax/zones/{zone['id']}"
    rates = await client.put(f"{url}/rates", headers={**admin, "if-match": etag}, json={"rates": [
        {"tax_class": "standard", "rate_ppm": 160_000, "name": "DE VAT 16%"}]})
    assert rates.status_code == 200, rates.text
    assert [(r["tax_class"], r["rate_ppm"]) for r in rates.json()["rates"]] == [("standard", 160_000)]
    assert rates.json()["version"] == 2
    assert rates.headers["etag"] != etag
    stale = await client.patch(url, headers={**admin, "if-match": etag}, json={"name": "Deutschland"})
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition.stale")
    stale_rates = await client.put(f"{url}/rates", headers={**admin, "if-match": etag}, json={"rates": []})
    assert stale_rates.status_code == 412
    assert await count(session, TaxZoneRate) == 1

    moved = await client.patch(url, headers={**admin, "if-match": rates.headers["etag"]},
                               json={"name": "Büsingen", "postcode_prefix": "782 66", "region": None})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["name"], moved.json()["postcode_prefix"], moved.json()["version"]) == ("Büsingen", "78266", 3)
    assert (await client.get(url, headers=admin)).headers["etag"] == moved.headers["etag"]

    deleted = await client.delete(url, headers={**admin, "if-match": moved.headers["etag"]})
    assert deleted.status_code == 204
    gone = await client.get(url, headers=admin)
    assert (gone.status_code, gone.json()["code"]) == (404, "tax.zone_not_found")
    assert (await client.get("/admin/tax/zones/not-an-id", headers=admin)).status_code == 404
    assert await count(session, TaxZone) == 0
    assert await count(session, TaxZoneRate) == 0


async def test_zone_list_is_keyset_paginated_with_rates(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await client.post("/admin/tax/zones", headers=admin, json=de_zone())
    await client.post("/admin/tax/zones", headers=admin, json={"code": "us-ny", "name": "New York", "country": "us",
                                                               "region": "US-NY", "rates": [
        {"tax_class": "standard", "rate_ppm": 40_000, "name": "NY 4%"}]})
    await client.post("/admin/tax/zones", headers=admin, json={"code": "us-ca", "name": "California",
                                                               "country": "US", "region": "ca"})
    first = (await client.get("/admin/tax/zones", headers=admin, params={"limit": 2})).json()
    assert [(z["code"], z["country"], z["region"]) for z in first["items"]] == [("de", "DE", None),
                                                                                  ("us-ca", "US", "CA")]
    assert len(first["items"][0]["rates"]) == 2
    second = (await client.get("/admin/tax/zones", headers=admin,
                               params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [z["code"] for z in second["items"]] == ["us-ny"]
    assert second["items"][0]["rates"][0]["rate_ppm"] == 40_000
    assert second["next_cursor"] is None
    only_us = (await client.get("/admin/tax/zones", headers=admin, params={"country": "us"})).json()
    assert [z["code"] for z in only_us["items"]] == ["us-ca", "us-ny"]
    bad_cursor = await client.get("/admin/tax/zones", headers=admin, params={"cursor": "nope"})
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (422, "pagination.invalid_cursor")


@pytest.mark.parametrize(("payload", "status", "code", "fields"), [
    (de_zone(country="XX"), 422, "tax.invalid", ["country"]),
    (de_zone(country="EU"), 422, "tax.invalid", ["country"]),
    (de_zone(country="D"), 422, "validation.invalid", None),
    (de_zone(region="N-Y!"), 422, "tax.invalid", ["region"]),
    (de_zone(postcode_prefix="12_3"), 422, "tax.invalid", ["postcode_prefix"]),
    (de_zone(rates=[{"tax_class": "standard", "rate_ppm": 1_000_001, "name": "too much"}]),
     422, "validation.invalid", None),
    (de_zone(rates=[{"tax_class": "standard", "rate_ppm": -1, "name": "negative"}]), 422, "validation.invalid", None),
    (de_zone(rates=[{"tax_class": "standard", "rate_ppm": 19.5, "name": "float"}]), 422, "validation.invalid", None),
    (de_zone(rates=[{"tax_class": "nope", "rate_ppm": 1, "name": "x"}, {"tax_class": "zero", "rate_ppm": 0,
                                                                        "name": "zero"},
                    {"tax_class": "standard", "rate_ppm": 1, "name": "a"},
                    {"tax_class": "standard", "rate_ppm": 2, "name": "b"}]),
     422, "tax.invalid", ["rates.0.tax_class", "rates.1.tax_class", "rates.3.tax_class"]),
    (de_zone(code="Not Valid"), 422, "validation.invalid", None),
    (de_zone(extra=True), 422, "validation.invalid", None),
])
async def test_bad_zones_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str],
    payload: dict[str, Any], status: int, code: str, fields: list[str] | None,
) -> None:
    response = await client.post("/admin/tax/zones", headers=admin, json=payload)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    if fields is not None:
        assert [e["field"] for e in response.json()["errors"]] == fields
    assert await count(session, TaxZone) == 0
    assert await count(session, TaxZoneRate) == 0


async def test_zone_conflicts_and_bad_updates_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    de = (await client.post("/admin/tax/zones", headers=admin, json=de_zone())).json()
    same_code = await client.post("/admin/tax/zones", headers=admin, json=de_zone(country="AT", rates=[]))
    assert (same_code.status_code, same_code.json()["code"]) == (409, "tax.zone_code_taken")
    same_area = await client.post("/admin/tax/zones", headers=admin, json=de_zone(code="de-2", rates=[]))
    assert (same_area.status_code, same_area.json()["code"]) == (409, "tax.zone_area_taken")
    heligoland = await client.post("/admin/tax/zones", headers=admin, json=de_zone(
        code="de-27498", postcode_prefix="27498", rates=[]))
    assert heligoland.status_code == 201
    assert await count(session, TaxZone) == 2

    url = f"/admin/tax/zones/{de['id']}"
    before = (await client.get(url, headers=admin)).json()
    onto_other = await client.patch(url, headers=admin, json={"postcode_prefix": "27498"})
    assert (onto_other.status_code, onto_other.json()["code"]) == (409, "tax.zone_area_taken")
    bad_country = await client.patch(url, headers=admin, json={"country": "QQ"})
    assert (bad_country.status_code, bad_country.json()["code"]) == (422, "tax.invalid")
    bad_rates = await client.put(f"{url}/rates", headers=admin, json={"rates": [
        {"tax_class": "standard", "rate_ppm": 1, "name": "x"}, {"tax_class": "ghost", "rate_ppm": 1, "name": "y"}]})
    assert (bad_rates.status_code, bad_rates.json()["code"]) == (422, "tax.invalid")
    assert [e["field"] for e in bad_rates.json()["errors"]] == ["rates.1.tax_class"]
    assert (await client.get(url, headers=admin)).json() == before
    # null for a required field leaves it as it is
    kept = await client.patch(url, headers=admin, json={"name": None, "code": None})
    assert (kept.json()["name"], kept.json()["code"]) == ("Germany", "de")


async def test_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: dict[str, str],
    reader: dict[str, str],
) -> None:
    zone = (await client.post("/admin/tax/zones", headers=admin, json=de_zone())).json()
    url = f"/admin/tax/zones/{zone['id']}"
    assert (await client.get("/admin/tax/classes")).status_code == 401
    assert (await client.get("/admin/tax/zones", headers=reader)).status_code == 200
    assert (await client.get(url, headers=reader)).status_code == 200
    assert (await client.get("/admin/tax/lookup", headers=reader, params={"country": "DE"})).status_code == 200
    catalogue = bearer(settings, "catalog:read", "catalog:write")
    assert (await client.get("/admin/tax/zones", headers=catalogue)).status_code == 403
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/admin/tax/classes", {"code": "books", "name": "Books"}),
        ("PATCH", "/admin/tax/classes/standard", {"name": "x"}),
        ("DELETE", "/admin/tax/classes/reduced", None),
        ("POST", "/admin/tax/zones", de_zone(code="fr", country="FR")),
        ("PATCH", url, {"name": "x"}),
        ("PUT", f"{url}/rates", {"rates": []}),
        ("DELETE", url, None),
    ]
    for method, path, body in writes:
        response = await client.request(method, path, headers=reader, json=body)
        assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden"), (method, path)
    assert await count(session, TaxZone) == 1
    assert await count(session, TaxZoneRate) == 2
    assert await count(session, TaxClass) == len(BUILT_IN)


async def test_lookup_shows_what_checkout_applies(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await client.post("/admin/tax/zones", headers=admin, json=de_zone())
    found = await client.get("/admin/tax/lookup", headers=admin, params=[
        ("country", "de"), ("postal_code", "10115"), ("tax_class", "standard"), ("tax_class", "reduced"),
        ("tax_class", "zero"), ("tax_class", "books")])
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["country"], body["provider"]) == ("DE", "table")
    assert [(r["tax_class"], r["rate_ppm"], r["zone_code"], r["source"]) for r in body["rates"]] == [
        ("standard", 190_000, "de", "zone"), ("reduced", 70_000, "de", "zone"), ("zero", 0, None, "fixed_zero"),
        ("books", 190_000, "de", "standard_fallback")]
    nowhere = (await client.get("/admin/tax/lookup", headers=admin, params={"country": "JP"})).json()
    assert [(r["tax_class"], r["rate_ppm"], r["zone_code"], r["source"]) for r in nowhere["rates"]] == [
        ("standard", 0, None, "no_zone")]
