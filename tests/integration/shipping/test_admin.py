"""/admin/shipping over HTTP: zones and methods CRUD, validation, permissions, concurrency, preview."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.shipping.models import ShippingMethod, ShippingMethodRate, ShippingZone, ShippingZoneArea
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import channel_ids
from tests.integration.inventory.factories import make_warehouse


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


async def make_zone(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> httpx.Response:
    body = {"code": "de", "name": "Germany", "areas": [{"country": "DE"}], **overrides}
    return await client.post("/admin/shipping/zones", headers=headers, json=body)


def flat_method(zone: str, **overrides: Any) -> dict[str, Any]:
    return {"zone_id": zone, "code": "standard", "name": "Standard", "kind": "flat", "min_days": 2,
            "max_days": 4, "rates": [{"currency": "EUR", "amount": 490}], **overrides}


# ---------------------------------------------------------------------------------------------
# zones


async def test_zone_crud_with_etags(client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]) -> None:
    web_eu = (await channel_ids(session))["web-eu"]
    await session.commit()
    created = await make_zone(client, admin, channel_ids=[str(web_eu)], areas=[
        {"country": "de"}, {"country": "GB", "postal_prefix": "bt"},
        {"country": "DE", "postal_from": "01000", "postal_to": "99999"}, {"country": "US", "region": "us-ak"},
    ])
    assert created.status_code == 201, created.text
    zone = created.json()
    assert created.headers["location"] == f"/admin/shipping/zones/{zone['id']}"
    assert zone["channel_ids"] == [str(web_eu)]
    assert zone["areas"] == [
        {"country": "DE", "region": None, "postal_prefix": None, "postal_from": None, "postal_to": None},
        {"country": "GB", "region": None, "postal_prefix": "BT", "postal_from": None, "postal_to": None},
        {"country": "DE", "region": None, "postal_prefix": None, "postal_from": "01000", "postal_to": "99999"},
        {"country": "US", "region": "AK", "postal_prefix": None, "postal_from": None, "postal_to": None},
    ]

    dup = await make_zone(client, admin)
    assert (dup.status_code, dup.json()["code"]) == (409, "shipping.zone_code_taken")

    etag = created.headers["etag"]
    url = f"/admin/shipping/zones/{zone['id']}"
    fetched = await client.get(url, headers=admin)
    assert fetched.headers["etag"] == etag
    renamed = await client.patch(url, headers={**admin, "if-match": etag},
                                 json={"name": "Deutschland", "areas": [{"country": "AT"}]})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["version"], renamed.json()["name"]) == (2, "Deutschland")
    assert [a["country"] for a in renamed.json()["areas"]] == ["AT"]
    assert renamed.json()["channel_ids"] == [str(web_eu)]  # left out: kept
    stale = await client.patch(url, headers={**admin, "if-match": etag}, json={"name": "Stale"})
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition.stale")
    stale_delete = await client.delete(url, headers={**admin, "if-match": etag})
    assert stale_delete.status_code == 412

    await make_zone(client, admin, code="fr", areas=[{"country": "FR"}])
    clash = await client.patch(url, headers=admin, json={"code": "fr"})
    assert (clash.status_code, clash.json()["code"]) == (409, "shipping.zone_code_taken")

    page = (await client.get("/admin/shipping/zones", headers=admin, params={"limit": 1})).json()
    assert [z["code"] for z in page["items"]] == ["de"]
    rest = (await client.get("/admin/shipping/zones", headers=admin,
                             params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [z["code"] for z in rest["items"]] == ["fr"]
    assert rest["next_cursor"] is None
    in_at = (await client.get("/admin/shipping/zones", headers=admin, params={"country": "at"})).json()
    assert [z["code"] for z in in_at["items"]] == ["de"]

    method = await client.post("/admin/shipping/methods", headers=admin, json=flat_method(zone["id"]))
    assert method.status_code == 201
    assert (await client.delete(url, headers={**admin, "if-match": renamed.headers["etag"]})).status_code == 204
    missing = await client.get(url, headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "shipping.zone_not_found")
    assert await count(session, ShippingMethod) == 0  # went with the zone
    assert await count(session, ShippingZone) == 1


@pytest.mark.parametrize(("areas", "field", "code"), [
    ([{"country": "XX"}], "areas.0.country", "invalid"),
    ([{"country": "US", "region": "ZZ"}], "areas.0.region", "invalid"),
    ([{"country": "DE", "region": "BE"}], "areas.0.region", "unsupported"),
    ([{"country": "DE", "postal_from": "01000"}], "areas.0.postal_to", "required"),
    ([{"country": "DE", "postal_from": "99999", "postal_to": "01000"}], "areas.0.postal_to", "before_start"),
    ([{"country": "DE", "postal_from": "0100", "postal_to": "99999"}], "areas.0.postal_to", "length_mismatch"),
    ([{"country": "GB", "postal_prefix": "--"}], "areas.0.postal_prefix", "invalid"),
    ([{"country": "GB", "postal_prefix": "BT", "postal_from": "1", "postal_to": "2"}], "areas.0.postal_from",
     "not_allowed"),
    ([{"country": "DE"}, {"country": "de"}], "areas.1", "duplicate"),
])
async def test_bad_areas_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], areas: list[dict[str, str]],
    field: str, code: str,
) -> None:
    response = await make_zone(client, admin, areas=areas)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "shipping.invalid"
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {(field, code)}
    assert await count(session, ShippingZone) == 0
    assert await count(session, ShippingZoneArea) == 0


@pytest.mark.parametrize("overrides", [
    {"code": "Has Space"}, {"name": ""}, {"areas": []}, {"areas": [{"country": "DEU"}]}, {"extra": 1},
    {"priority": "1"}, {"areas": [{"country": "DE", "postal_prefix": "x" * 21}]},
])
async def test_malformed_zones_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], overrides: dict[str, Any]
) -> None:
    response = await make_zone(client, admin, **overrides)
    assert (response.status_code, response.json()["code"]) == (422, "validation.invalid")
    assert await count(session, ShippingZone) == 0


async def test_unknown_channels_are_named(client: httpx.AsyncClient, session: AsyncSession,
                                          admin: dict[str, str]) -> None:
    web_eu = (await channel_ids(session))["web-eu"]
    await session.commit()
    response = await make_zone(client, admin, channel_ids=[str(web_eu), str(uuid.uuid4()), "nope"])
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["channel_ids.1", "channel_ids.2"]
    assert await count(session, ShippingZone) == 0


async def test_a_failed_update_changes_nothing(client: httpx.AsyncClient, session: AsyncSession,
                                               admin: dict[str, str]) -> None:
    zone = (await make_zone(client, admin)).json()
    url = f"/admin/shipping/zones/{zone['id']}"
    refused = await client.patch(url, headers=admin, json={"name": "Other", "areas": [{"country": "XX"}]})
    assert refused.status_code == 422
    after = (await client.get(url, headers=admin)).json()
    assert (after["name"], after["version"], [a["country"] for a in after["areas"]]) == ("Germany", 1, ["DE"])


async def test_permissions(client: httpx.AsyncClient, settings: Settings, admin: dict[str, str],
                           reader: dict[str, str]) -> None:
    zone = (await make_zone(client, admin)).json()
    method = (await client.post("/admin/shipping/methods", headers=admin, json=flat_method(zone["id"]))).json()
    other = bearer(settings, "catalog:read", "catalog:write")
    for path in ("/admin/shipping/zones", f"/admin/shipping/zones/{zone['id']}", "/admin/shipping/methods",
                 f"/admin/shipping/methods/{method['id']}"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=other)).status_code == 403
        assert (await client.get(path, headers=reader)).status_code == 200
    writes = [
        ("POST", "/admin/shipping/zones", {"code": "x", "name": "X", "areas": [{"country": "FR"}]}),
        ("PATCH", f"/admin/shipping/zones/{zone['id']}", {"name": "X"}),
        ("DELETE", f"/admin/shipping/zones/{zone['id']}", None),
        ("POST", "/admin/shipping/methods", flat_method(zone["id"], code="other")),
        ("PATCH", f"/admin/shipping/methods/{method['id']}", {"name": "X"}),
        ("DELETE", f"/admin/shipping/methods/{method['id']}", None),
    ]
    for verb, path, body in writes:
        response = await client.request(verb, path, headers=reader, json=body)
        assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden"), (verb, path)
        assert (await client.request(verb, path, json=body)).status_code == 401
    assert (await client.get(f"/admin/shipping/zones/{zone['id']}", headers=reader)).json()["version"] == 1


# ---------------------------------------------------------------------------------------------
# methods


async def test_method_crud(client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str]) -> None:
    berlin = await make_warehouse(session)
    await session.commit()
    zone = (await make_zone(client, admin)).json()
    body = {
        "zone_id": zone["id"], "code": "express", "name": "Express", "kind": "weight_tiers", "carrier": "DHL",
        "min_days": 1, "max_days": 2, "tax_class": "standard", "warehouse_ids": [str(berlin.id)],
        "rates": [
            {"currency": "eur", "weight_tiers": [{"max_grams": 5000, "amount": 1490},
                                                 {"max_grams": 31500, "amount": 2490}]},
            {"currency": "GBP", "weight_tiers": [{"max_grams": 5000, "amount": 1290}]},
        ],
    }
    created = await client.post("/admin/shipping/methods", headers=admin, json=body)
    assert created.status_code == 201, created.text
    method = created.json()
    assert created.headers["location"] == f"/admin/shipping/methods/{method['id']}"
    assert method["rates"] == [
        {"currency": "EUR", "amount": None, "free_over": None, "price_tiers": [],
         "weight_tiers": [{"max_grams": 5000, "amount": 1490}, {"max_grams": 31500, "amount": 2490}]},
        {"currency": "GBP", "amount": None, "free_over": None, "price_tiers": [],
         "weight_tiers": [{"max_grams": 5000, "amount": 1290}]},
    ]
    assert (method["warehouse_ids"], method["carrier"], method["is_active"]) == ([str(berlin.id)], "DHL", True)

    dup = await client.post("/admin/shipping/methods", headers=admin, json=body)
    assert (dup.status_code, dup.json()["code"]) == (409, "shipping.method_code_taken")
    other_zone = (await make_zone(client, admin, code="fr", areas=[{"country": "FR"}])).json()
    same_code_elsewhere = await client.post("/admin/shipping/methods", headers=admin,
                                            json={**body, "zone_id": other_zone["id"]})
    assert same_code_elsewhere.status_code == 201

    url = f"/admin/shipping/methods/{method['id']}"
    etag = created.headers["etag"]
    # a change of kind needs rates that fit it
    misfit = await client.patch(url, headers={**admin, "if-match": etag}, json={"kind": "flat"})
    assert misfit.status_code == 422
    assert ("rates.0.weight_tiers", "not_allowed") in {(e["field"], e["code"]) for e in misfit.json()["errors"]}
    changed = await client.patch(url, headers={**admin, "if-match": etag}, json={
        "kind": "free_over", "carrier": None, "rates": [{"currency": "EUR", "amount": 490, "free_over": 5000}]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["kind"], changed.json()["carrier"]) == (2, "free_over", None)
    assert changed.json()["warehouse_ids"] == [str(berlin.id)]
    assert await count(session, ShippingMethodRate) == 3  # 1 here + 2 on the other zone's copy
    stale = await client.patch(url, headers={**admin, "if-match": etag}, json={"name": "Stale"})
    assert stale.status_code == 412

    listed = (await client.get("/admin/shipping/methods", headers=admin, params={"zone_id": zone["id"]})).json()
    assert [m["id"] for m in listed["items"]] == [method["id"]]
    assert (await client.get("/admin/shipping/methods", headers=admin,
                             params={"zone_id": "nope"})).json()["items"] == []
    first = (await client.get("/admin/shipping/methods", headers=admin, params={"limit": 1})).json()
    second = (await client.get("/admin/shipping/methods", headers=admin,
                               params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert {first["items"][0]["zone_id"], second["items"][0]["zone_id"]} == {zone["id"], other_zone["id"]}

    assert (await client.delete(url, headers={**admin, "if-match": etag})).status_code == 412
    assert (await client.delete(url, headers={**admin, "if-match": changed.headers["etag"]})).status_code == 204
    missing = await client.get(url, headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "shipping.method_not_found")
    assert (await client.get("/admin/shipping/methods/nope", headers=admin)).status_code == 404
    assert await count(session, ShippingMethodRate) == 2


@pytest.mark.parametrize(("overrides", "errors"), [
    ({"zone_id": str(uuid.uuid4())}, {("zone_id", "unknown")}),
    ({"min_days": 5, "max_days": 2}, {("max_days", "before_start")}),
    ({"rates": [{"currency": "EUR"}]}, {("rates.0.amount", "required")}),
    ({"rates": [{"currency": "XYZ", "amount": 1}]}, {("rates.0.currency", "invalid")}),
    ({"rates": [{"currency": "EUR", "amount": 1}, {"currency": "eur", "amount": 2}]},
     {("rates.1.currency", "duplicate")}),
    ({"rates": [{"currency": "EUR", "amount": 1, "weight_tiers": [{"max_grams": 1, "amount": 1}]}]},
     {("rates.0.weight_tiers", "not_allowed")}),
    ({"kind": "weight_tiers", "rates": [{"currency": "EUR", "weight_tiers": [
        {"max_grams": 5000, "amount": 1}, {"max_grams": 5000, "amount": 2}, {"max_grams": 10, "amount": 3}]}]},
     {("rates.0.weight_tiers.1.max_grams", "not_increasing"), ("rates.0.weight_tiers.2.max_grams", "not_increasing")}),
    ({"kind": "price_tiers", "rates": [{"currency": "EUR", "price_tiers": [{"min_subtotal": 100, "amount": 1}]}]},
     {("rates.0.price_tiers.0.min_subtotal", "must_start_at_zero")}),
    ({"kind": "price_tiers", "rates": [{"currency": "EUR", "amount": 5}]},
     {("rates.0.amount", "not_allowed"), ("rates.0.price_tiers", "required")}),
    ({"kind": "free_over", "rates": [{"currency": "EUR", "amount": 5}]}, {("rates.0.free_over", "required")}),
    ({"warehouse_ids": [str(uuid.uuid4())]}, {("warehouse_ids.0", "unknown")}),
])
async def test_bad_methods_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], overrides: dict[str, Any],
    errors: set[tuple[str, str]],
) -> None:
    zone = (await make_zone(client, admin)).json()
    response = await client.post("/admin/shipping/methods", headers=admin, json=flat_method(zone["id"], **overrides))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "shipping.invalid"
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == errors
    assert await count(session, ShippingMethod) == 0
    assert await count(session, ShippingMethodRate) == 0


@pytest.mark.parametrize("overrides", [
    {"kind": "cheap"}, {"rates": []}, {"rates": [{"currency": "EUR", "amount": -1}]},
    {"rates": [{"currency": "EUR", "amount": 1.5}]}, {"min_days": -1}, {"max_days": 366},
    {"tax_class": "Standard"}, {"rates": [{"currency": "EU", "amount": 1}]}, {"extra": True},
    {"rates": [{"currency": "EUR", "amount": 2**63}]},
])
async def test_malformed_methods_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], overrides: dict[str, Any]
) -> None:
    zone = (await make_zone(client, admin)).json()
    response = await client.post("/admin/shipping/methods", headers=admin, json=flat_method(zone["id"], **overrides))
    assert (response.status_code, response.json()["code"]) == (422, "validation.invalid")
    assert await count(session, ShippingMethod) == 0


async def test_preview_shows_what_a_cart_is_offered(
    client: httpx.AsyncClient, session: AsyncSession, admin: dict[str, str], reader: dict[str, str]
) -> None:
    web_eu = (await channel_ids(session))["web-eu"]
    await session.commit()
    zone = (await make_zone(client, admin)).json()
    await client.post("/admin/shipping/methods", headers=admin, json=flat_method(zone["id"]))
    params: dict[str, str | int] = {"channel_id": str(web_eu), "currency": "EUR", "country": "DE",
                                    "postal_code": "10115", "subtotal": 1000, "weight_grams": 500}
    options = await client.get("/admin/shipping/options", headers=reader, params=params)
    assert options.status_code == 200, options.text
    assert [(o["code"], o["price"], o["provider"]) for o in options.json()] == [("standard", 490, "table")]
    assert (await client.get("/admin/shipping/options", headers=reader,
                             params={**params, "channel_id": "nope"})).json() == []
    bad = await client.get("/admin/shipping/options", headers=reader, params={**params, "subtotal": -1})
    assert bad.status_code == 422


async def test_every_error_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = {p: ops for p, ops in spec["paths"].items() if p.startswith("/admin/shipping")}
    assert len(paths) == 5
    for path, operations in paths.items():
        for verb, operation in operations.items():
            documented = set(operation["responses"])
            assert {"401", "403"} <= documented, (verb, path)
            if verb in ("patch", "delete"):
                assert {"404", "412"} <= documented, (verb, path)
            if verb in ("post", "patch"):
                assert {"409", "422"} <= documented, (verb, path)
