"""/admin/customer-groups and /admin/price-lists over HTTP: permissions, validation, concurrency."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Variant
from mercato.modules.pricing.models import CustomerGroup, CustomerGroupMember, PriceList, PriceListEntry
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import VariantSpec, channel_ids, make_product
from tests.integration.catalog.review_factories import make_customers


def bearer(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return bearer(settings, "catalog:read", "catalog:write", "customers:read", "customers:write")


async def variant_ids(session: AsyncSession, n: int = 2) -> list[uuid.UUID]:
    product = await make_product(session, "Mug", variants=[VariantSpec() for _ in range(n)])
    return list((await session.execute(
        select(Variant.id).where(Variant.product_id == product.id).order_by(Variant.position)
    )).scalars())


# ---------------------------------------------------------------------------------------------
# customer groups


async def test_group_crud_with_etags(client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]) -> None:
    created = await client.post("/admin/customer-groups", headers=writer, json={"code": "gold", "name": "Gold"})
    assert created.status_code == 201, created.text
    group = created.json()
    assert created.headers["location"] == f"/admin/customer-groups/{group['id']}"

    dup = await client.post("/admin/customer-groups", headers=writer, json={"code": "gold", "name": "Other"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "pricing.customer_group_code_taken"

    etag = created.headers["etag"]
    renamed = await client.patch(f"/admin/customer-groups/{group['id']}", headers={**writer, "if-match": etag},
                                 json={"name": "Gold members"})
    assert renamed.status_code == 200
    assert renamed.json()["version"] == 2
    stale = await client.patch(f"/admin/customer-groups/{group['id']}", headers={**writer, "if-match": etag},
                               json={"name": "Stale"})
    assert stale.status_code == 412

    await client.post("/admin/customer-groups", headers=writer, json={"code": "silver", "name": "Silver"})
    clash = await client.patch(f"/admin/customer-groups/{group['id']}", headers=writer, json={"code": "silver"})
    assert clash.status_code == 409
    listed = (await client.get("/admin/customer-groups", headers=writer, params={"limit": 1})).json()
    assert [g["code"] for g in listed["items"]] == ["gold"]
    assert listed["next_cursor"]
    assert (await client.get(f"/admin/customer-groups/{group['id']}", headers=writer)).json()["name"] == \
        "Gold members"

    assert (await client.delete(f"/admin/customer-groups/{group['id']}", headers=writer)).status_code == 204
    missing = await client.get(f"/admin/customer-groups/{group['id']}", headers=writer)
    assert missing.status_code == 404
    assert missing.json()["code"] == "pricing.customer_group_not_found"
    assert await count(session, CustomerGroup) == 1


@pytest.mark.parametrize("payload", [
    {"code": "", "name": "x"}, {"code": "Has Space", "name": "x"}, {"code": "a" * 51, "name": "x"},
    {"code": "ok", "name": ""}, {"code": "ok"}, {"code": "ok", "name": "x", "extra": 1},
    {"code": "ok", "name": "x", "tax_exempt": "yes"}, {"code": "ok", "name": "x", "tax_exempt": 1},
    {"code": "ok", "name": "x", "tax_exempt": None},
])
async def test_bad_groups_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], payload: dict[str, Any]
) -> None:
    response = await client.post("/admin/customer-groups", headers=writer, json=payload)
    assert response.status_code == 422
    assert response.json()["code"] == "validation.invalid"
    assert await count(session, CustomerGroup) == 0


async def test_a_groups_tax_exemption_is_set_and_changed_like_its_other_fields(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    plain = await client.post("/admin/customer-groups", headers=writer, json={"code": "retail", "name": "Retail"})
    assert plain.json()["tax_exempt"] is False
    created = await client.post("/admin/customer-groups", headers=writer,
                                json={"code": "b2b-eu", "name": "B2B with VAT id", "tax_exempt": True})
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["tax_exempt"] is True
    url = f"/admin/customer-groups/{group['id']}"
    assert (await client.get(url, headers=writer)).json()["tax_exempt"] is True

    # Renaming leaves the exemption alone; a stale ETag changes nothing; a bad value is refused.
    renamed = await client.patch(url, headers={**writer, "if-match": created.headers["etag"]},
                                 json={"name": "B2B"})
    assert renamed.status_code == 200
    assert renamed.json()["tax_exempt"] is True
    stale = await client.patch(url, headers={**writer, "if-match": created.headers["etag"]},
                               json={"tax_exempt": False})
    assert stale.status_code == 412
    bad = await client.patch(url, headers={**writer, "if-match": renamed.headers["etag"]},
                             json={"tax_exempt": "no"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation.invalid"
    assert (await client.get(url, headers=writer)).json()["tax_exempt"] is True

    revoked = await client.patch(url, headers={**writer, "if-match": renamed.headers["etag"]},
                                 json={"tax_exempt": False})
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["tax_exempt"], revoked.json()["version"]) == (False, 3)
    assert revoked.headers["etag"] not in (created.headers["etag"], renamed.headers["etag"])
    stored = (await session.execute(select(CustomerGroup.tax_exempt).where(CustomerGroup.code == "b2b-eu"))).scalar()
    assert stored is False
    listed = (await client.get("/admin/customer-groups", headers=writer)).json()["items"]
    assert {g["code"]: g["tax_exempt"] for g in listed} == {"b2b-eu": False, "retail": False}


async def test_members_need_customer_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, writer: dict[str, str]
) -> None:
    group = (await client.post("/admin/customer-groups", headers=writer, json={"code": "b2b", "name": "B2B"})).json()
    jane, john = await make_customers(session, settings, 2)
    await session.commit()
    catalogue_only = bearer(settings, "catalog:read", "catalog:write")
    members = f"/admin/customer-groups/{group['id']}/members"

    refused = await client.post(members, headers=catalogue_only, json={"customer_ids": [str(jane.id)]})
    assert refused.status_code == 403
    assert (await client.get(members, headers=catalogue_only)).status_code == 403
    assert (await client.post(members, json={"customer_ids": [str(jane.id)]})).status_code == 401

    unknown = await client.post(members, headers=writer,
                                json={"customer_ids": [str(jane.id), str(uuid.uuid4()), "nope"]})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "pricing.invalid"
    assert [e["field"] for e in unknown.json()["errors"]] == ["customer_ids.1", "customer_ids.2"]
    assert await count(session, CustomerGroupMember) == 0

    added = await client.post(members, headers=writer, json={"customer_ids": [str(jane.id), str(john.id),
                                                                              str(jane.id)]})
    assert added.json() == {"added": 2}
    again = await client.post(members, headers=writer, json={"customer_ids": [str(jane.id)]})
    assert again.json() == {"added": 0}
    listed = (await client.get(members, headers=writer)).json()
    assert sorted(m["customer_id"] for m in listed["items"]) == sorted([str(jane.id), str(john.id)])

    assert (await client.delete(f"{members}/{jane.id}", headers=catalogue_only)).status_code == 403
    assert (await client.delete(f"{members}/{jane.id}", headers=writer)).status_code == 204
    assert (await client.delete(f"{members}/{jane.id}", headers=writer)).status_code == 204
    assert await count(session, CustomerGroupMember) == 1


async def test_a_group_in_use_cannot_be_deleted(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    channel = (await channel_ids(session))["web-eu"]
    await session.commit()
    group = (await client.post("/admin/customer-groups", headers=writer, json={"code": "vip", "name": "VIP"})).json()
    created = await client.post("/admin/price-lists", headers=writer, json={
        "name": "VIP", "channel_id": str(channel), "customer_group_id": group["id"]})
    assert created.status_code == 201, created.text
    refused = await client.delete(f"/admin/customer-groups/{group['id']}", headers=writer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "pricing.customer_group_in_use"
    assert await count(session, CustomerGroup) == 1


# ---------------------------------------------------------------------------------------------
# price lists


async def test_price_list_crud(client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]) -> None:
    channels = await channel_ids(session)
    await session.commit()
    created = await client.post("/admin/price-lists", headers=writer, json={
        "name": "Summer sale", "channel_id": str(channels["web-eu"]), "priority": 5,
        "valid_from": "2026-06-01T00:00:00Z", "valid_to": "2026-09-01T00:00:00Z"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["currency"], body["customer_group_id"], body["is_active"], body["version"]) == ("EUR", None, True, 1)

    etag = created.headers["etag"]
    moved = await client.patch(f"/admin/price-lists/{body['id']}", headers={**writer, "if-match": etag},
                               json={"channel_id": str(channels["web-us"]), "valid_to": None, "name": None})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["currency"], moved.json()["valid_to"], moved.json()["name"]) == ("USD", None, "Summer sale")
    stale = await client.patch(f"/admin/price-lists/{body['id']}", headers={**writer, "if-match": etag},
                               json={"priority": 1})
    assert stale.status_code == 412

    listed = (await client.get("/admin/price-lists", headers=writer,
                               params={"channel_id": str(channels["web-us"])})).json()
    assert [p["id"] for p in listed["items"]] == [body["id"]]
    assert (await client.get("/admin/price-lists", headers=writer,
                             params={"channel_id": str(channels["web-eu"])})).json()["items"] == []

    assert (await client.delete(f"/admin/price-lists/{body['id']}", headers=writer)).status_code == 204
    missing = await client.get(f"/admin/price-lists/{body['id']}", headers=writer)
    assert missing.status_code == 404
    assert missing.json()["code"] == "pricing.price_list_not_found"


@pytest.mark.parametrize(("change", "field"), [
    ({"channel_id": str(uuid.uuid4())}, "channel_id"),
    ({"channel_id": "nope"}, "channel_id"),
    ({"currency": "USD"}, "currency"),
    ({"customer_group_id": str(uuid.uuid4())}, "customer_group_id"),
    ({"valid_from": "2026-06-01T00:00:00Z", "valid_to": "2026-06-01T00:00:00Z"}, "valid_to"),
])
async def test_price_lists_that_do_not_fit_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], change: dict[str, Any], field: str
) -> None:
    channel = (await channel_ids(session))["web-eu"]
    await session.commit()
    response = await client.post("/admin/price-lists", headers=writer,
                                 json={"name": "X", "channel_id": str(channel), **change})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "pricing.invalid"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await count(session, PriceList) == 0


@pytest.mark.parametrize("change", [
    {"priority": "1"}, {"valid_from": "2026-06-01T00:00:00"}, {"name": ""}, {"currency": "EURO"}, {"bogus": 1},
])
async def test_malformed_price_lists_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], change: dict[str, Any]
) -> None:
    channel = (await channel_ids(session))["web-eu"]
    await session.commit()
    response = await client.post("/admin/price-lists", headers=writer,
                                 json={"name": "X", "channel_id": str(channel), **change})
    assert response.status_code == 422
    assert response.json()["code"] == "validation.invalid"
    assert await count(session, PriceList) == 0


async def test_price_lists_need_catalogue_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    channel = (await channel_ids(session))["web-eu"]
    await session.commit()
    reader = bearer(settings, "catalog:read")
    payload = {"name": "X", "channel_id": str(channel)}
    assert (await client.post("/admin/price-lists", json=payload)).status_code == 401
    assert (await client.post("/admin/price-lists", headers=reader, json=payload)).status_code == 403
    assert (await client.get("/admin/price-lists", headers=bearer(settings, "orders:read"))).status_code == 403
    assert (await client.get("/admin/price-lists", headers=reader)).status_code == 200
    assert (await client.post("/admin/customer-groups", headers=reader,
                              json={"code": "a", "name": "A"})).status_code == 403
    assert await count(session, PriceList) == 0


async def test_entries_bulk_upsert_and_delete(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    channel = (await channel_ids(session))["web-eu"]
    v1, v2 = await variant_ids(session)
    await session.commit()
    created = await client.post("/admin/price-lists", headers=writer,
                                json={"name": "Tiers", "channel_id": str(channel)})
    url = f"/admin/price-lists/{created.json()['id']}/entries"

    written = await client.put(url, headers={**writer, "if-match": created.headers["etag"]}, json={"entries": [
        {"variant_id": str(v1), "amount": 900}, {"variant_id": str(v1), "min_quantity": 10, "amount": 800},
        {"variant_id": str(v2), "min_quantity": 5, "amount": 0}]})
    assert written.status_code == 200, written.text
    assert written.json() == {"count": 3, "version": 2}
    replaced = await client.put(url, headers=writer, json={"entries": [
        {"variant_id": str(v1), "min_quantity": 10, "amount": 750}]})
    assert replaced.json() == {"count": 1, "version": 3}
    stale = await client.put(url, headers={**writer, "if-match": created.headers["etag"]},
                             json={"entries": [{"variant_id": str(v1), "amount": 1}]})
    assert stale.status_code == 412

    page = (await client.get(url, headers=writer, params={"limit": 2})).json()
    rest = (await client.get(url, headers=writer, params={"cursor": page["next_cursor"]})).json()
    entries = {(e["variant_id"], e["min_quantity"]): e["amount"] for e in page["items"] + rest["items"]}
    assert entries == {(str(v1), 1): 900, (str(v1), 10): 750, (str(v2), 5): 0}

    removed = await client.post(f"{url}/delete", headers=writer, json={"entries": [
        {"variant_id": str(v1), "min_quantity": 10}, {"variant_id": str(v2), "min_quantity": 99}]})
    assert removed.json() == {"count": 1, "version": 4}
    assert await count(session, PriceListEntry) == 2


@pytest.mark.parametrize(("entries", "code", "fields"), [
    ([{"variant_id": "V1", "amount": -1}], "validation.invalid", None),
    ([{"variant_id": "V1", "amount": 1, "min_quantity": 0}], "validation.invalid", None),
    ([{"variant_id": "V1", "amount": 1.5}], "validation.invalid", None),
    ([{"variant_id": "V1", "amount": 2**63}], "validation.invalid", None),
    ([], "validation.invalid", None),
    ([{"variant_id": "V1", "amount": 1}, {"variant_id": "NEW", "amount": 1}], "pricing.invalid",
     ["entries.1.variant_id"]),
    ([{"variant_id": "V1", "amount": 1}, {"variant_id": "V1", "amount": 2}], "pricing.invalid", ["entries.1"]),
    ([{"variant_id": "nope", "amount": 1}], "pricing.invalid", ["entries.0.variant_id"]),
])
async def test_bad_entries_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], entries: list[dict[str, Any]],
    code: str, fields: list[str] | None,
) -> None:
    channel = (await channel_ids(session))["web-eu"]
    (v1,) = await variant_ids(session, 1)
    await session.commit()
    price_list = (await client.post("/admin/price-lists", headers=writer,
                                    json={"name": "X", "channel_id": str(channel)})).json()
    names = {"V1": str(v1), "NEW": str(uuid.uuid4())}
    body = [{**e, "variant_id": names.get(e["variant_id"], e["variant_id"])} for e in entries]
    response = await client.put(f"/admin/price-lists/{price_list['id']}/entries", headers=writer,
                                json={"entries": body})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    if fields is not None:
        assert [e["field"] for e in response.json()["errors"]] == fields
    assert await count(session, PriceListEntry) == 0
    assert (await client.get(f"/admin/price-lists/{price_list['id']}", headers=writer)).json()["version"] == 1
