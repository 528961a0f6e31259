"""/admin/promotions over HTTP: permissions, validation, ETags, codes, bulk generation, stats."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.modules.promotions.models import Promotion, PromotionCode, PromotionRedemption
from mercato.modules.promotions.rules import ALPHABET
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import channel_ids, make_brand, make_category, make_product

URL = "/admin/promotions"
PERCENT_10 = {"kind": "percentage", "rate_ppm": 100_000}


def bearer(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


@pytest.fixture(autouse=True)
async def channels(session: AsyncSession) -> dict[str, uuid.UUID]:
    """The base channels and currencies (promotions refer to them)."""
    ids = await channel_ids(session)
    await session.commit()
    return ids


@pytest.fixture
def writer(settings: Settings) -> dict[str, str]:
    return bearer(settings, "promotions:write")


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(URL, headers=headers, json={"name": "Promo", "trigger": "coupon",
                                                             "benefit": PERCENT_10} | body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_crud_with_etags_and_permissions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, writer: dict[str, str]
) -> None:
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(URL, headers=bearer(settings, "catalog:write"))).status_code == 403

    response = await client.post(URL, headers=writer, json={
        "name": "Summer", "trigger": "coupon", "benefit": PERCENT_10, "codes": ["summer10", "Summer-Extra"],
        "priority": 5, "stackable": False, "usage_limit": 100})
    assert response.status_code == 201, response.text
    promotion = response.json()
    assert response.headers["location"] == f"{URL}/{promotion['id']}"
    assert promotion["status"] == "running"
    assert (promotion["uses"], promotion["spent"], promotion["version"]) == (0, 0, 1)
    assert promotion["benefit"] == PERCENT_10
    assert promotion["conditions"]["targets"]["product_ids"] == []
    codes = (await client.get(f"{URL}/{promotion['id']}/codes", headers=writer)).json()["items"]
    assert sorted(c["code"] for c in codes) == ["SUMMER-EXTRA", "SUMMER10"]

    etag = response.headers["etag"]
    item = f"{URL}/{promotion['id']}"
    changed = await client.patch(item, headers=writer | {"if-match": etag},
                                 json={"benefit": {"kind": "fixed_amount", "amount": 500, "per": "order"},
                                       "currency": "EUR", "ends_at": "2999-01-01T00:00:00+02:00"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["version"], body["currency"], body["benefit"]["amount"]) == (2, "EUR", 500)
    assert body["ends_at"].startswith("2998-12-31T22:00:00")
    assert body["usage_limit"] == 100
    assert body["priority"] == 5
    stale = await client.patch(item, headers=writer | {"if-match": etag}, json={"name": "Stale"})
    assert stale.status_code == 412
    cleared = await client.patch(item, headers=writer, json={"usage_limit": None, "name": None})
    assert (cleared.json()["usage_limit"], cleared.json()["name"]) == (None, "Summer")

    off = await client.post(f"{item}/deactivate", headers=writer)
    assert (off.status_code, off.json()["is_active"], off.json()["status"]) == (200, False, "inactive")
    assert (await client.post(f"{item}/activate", headers=writer)).json()["status"] == "running"

    assert (await client.delete(item, headers=writer | {"if-match": etag})).status_code == 412
    assert (await client.delete(item, headers=writer)).status_code == 204
    missing = await client.get(item, headers=writer)
    assert (missing.status_code, missing.json()["code"]) == (404, "promotion.not_found")
    assert await count(session, PromotionCode) == 0
    assert (await client.get(f"{URL}/not-an-id", headers=writer)).status_code == 404


async def test_list_filters(client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]) -> None:
    channels = await channel_ids(session)
    await session.commit()
    auto = await create(client, writer, name="Auto", trigger="automatic", channel_ids=[str(channels["web-us"])])
    coupon = await create(client, writer, name="Coupon", codes=["FINDME"])
    later = await create(client, writer, name="Later", starts_at="2999-01-01T00:00:00Z")
    ended = await create(client, writer, name="Ended", starts_at="2000-01-01T00:00:00Z",
                         ends_at="2001-01-01T00:00:00Z")
    off = await create(client, writer, name="Off", is_active=False)

    async def names(**params: Any) -> list[str]:
        response = await client.get(URL, headers=writer, params=params)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["items"]]

    assert await names() == ["Off", "Ended", "Later", "Coupon", "Auto"]  # newest first
    assert await names(trigger="automatic") == ["Auto"]
    assert await names(code="findme") == ["Coupon"]
    assert await names(status="scheduled") == ["Later"]
    assert await names(status="ended") == ["Ended"]
    assert await names(status="inactive") == ["Off"]
    assert await names(status="running") == ["Coupon", "Auto"]
    assert await names(is_active="false") == ["Off"]
    assert "Auto" not in await names(channel_id=str(channels["web-eu"]))
    assert "Auto" in await names(channel_id=str(channels["web-us"]))
    assert await names(channel_id="nope") == []
    first = (await client.get(URL, headers=writer, params={"limit": 2})).json()
    rest = (await client.get(URL, headers=writer, params={"limit": 10, "cursor": first["next_cursor"]})).json()
    assert [p["id"] for p in first["items"] + rest["items"]] == \
        [p["id"] for p in (off, ended, later, coupon, auto)]


@pytest.mark.parametrize(("body", "fields"), [
    ({"benefit": {"kind": "percentage", "rate_ppm": 0}}, ["benefit.percentage.rate_ppm"]),
    ({"benefit": {"kind": "percentage", "rate_ppm": 1_000_001}}, ["benefit.percentage.rate_ppm"]),
    ({"benefit": {"kind": "fixed_amount", "amount": -1}}, ["benefit.fixed_amount.amount"]),
    ({"benefit": {"kind": "nope"}}, ["benefit"]),
    ({"benefit": {"kind": "tiered", "tiers": [{"threshold": 100, "amount": 5}, {"threshold": 100, "amount": 9}]}},
     ["benefit.tiered"]),
    ({"benefit": {"kind": "bundle", "items": [{"product_id": "x"}], "price": 10}}, ["benefit.bundle"]),
    ({"trigger": "sometimes"}, ["trigger"]),
    ({"usage_limit": 0}, ["usage_limit"]),
    ({"starts_at": "2026-01-01T00:00:00"}, ["starts_at"]),
    ({"codes": ["has space"]}, ["codes.0"]),
    ({"extra": 1}, ["extra"]),
])
async def test_shape_errors(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str], body: dict[str, Any],
    fields: list[str],
) -> None:
    response = await client.post(URL, headers=writer, json={"name": "X", "trigger": "coupon",
                                                            "benefit": PERCENT_10} | body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation.invalid"
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert await count(session, Promotion) == 0


async def test_references_and_consistency_are_checked(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    channels = await channel_ids(session)
    await session.commit()
    unknown = str(uuid.uuid4())
    response = await client.post(URL, headers=writer, json={
        "name": "Bad", "trigger": "automatic",
        "benefit": {"kind": "bundle", "items": [{"product_id": unknown}, {"product_id": "nope"}], "price": 100},
        "channel_ids": [str(channels["web-eu"]), str(channels["web-us"]), unknown],
        "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z",
        "conditions": {"targets": {"category_ids": [unknown], "excluded_brand_ids": [unknown]},
                       "customer_group_ids": [unknown]},
        "codes": ["NOCODES"],
    })
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "promotion.invalid"
    assert [e["field"] for e in response.json()["errors"]] == ["codes"]
    del_codes = await client.post(URL, headers=writer, json={
        "name": "Bad", "trigger": "automatic",
        "benefit": {"kind": "bundle", "items": [{"product_id": unknown}, {"product_id": "nope"}], "price": 100},
        "channel_ids": [str(channels["web-eu"]), str(channels["web-us"]), unknown],
        "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z",
        "conditions": {"targets": {"category_ids": [unknown], "excluded_brand_ids": [unknown]},
                       "customer_group_ids": [unknown]},
    })
    assert del_codes.status_code == 422
    assert sorted((e["field"], e["code"]) for e in del_codes.json()["errors"]) == sorted([
        ("channel_ids.2", "unknown"), ("currency", "required"), ("ends_at", "before_start"),
        ("conditions.targets.category_ids.0", "unknown"), ("conditions.targets.excluded_brand_ids.0", "unknown"),
        ("conditions.customer_group_ids.0", "unknown"), ("benefit.items.0.product_id", "unknown"),
        ("benefit.items.1.product_id", "unknown"),
    ])
    mismatch = await client.post(URL, headers=writer, json={
        "name": "Dollars in Europe", "trigger": "automatic", "currency": "USD",
        "benefit": {"kind": "fixed_amount", "amount": 500}, "channel_ids": [str(channels["web-eu"])]})
    assert [(e["field"], e["code"]) for e in mismatch.json()["errors"]] == [("channel_ids.0", "currency_mismatch")]
    bogus = await client.post(URL, headers=writer, json={
        "name": "X", "trigger": "automatic", "currency": "XYZ", "benefit": {"kind": "fixed_amount", "amount": 5}})
    assert [(e["field"], e["code"]) for e in bogus.json()["errors"]] == [("currency", "unknown")]
    assert await count(session, Promotion) == 0

    # The channel's currency is the default; real references pass.
    category = await make_category(session, "Shoes")
    brand = await make_brand(session, "Acme")
    product = await make_product(session, "Boot", category=category, brand=brand)
    await session.commit()
    good = await create(client, writer, trigger="automatic", benefit={"kind": "fixed_amount", "amount": 500},
                        channel_ids=[str(channels["web-eu"])], conditions={
                            "targets": {"category_ids": [str(category.id)], "brand_ids": [str(brand.id)],
                                        "excluded_product_ids": [str(product.id)]},
                            "min_subtotal": 5000})
    assert good["currency"] == "EUR"


async def test_limits_cannot_drop_below_what_was_used(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    promotion = await create(client, writer, currency="EUR", budget=10_000, usage_limit=10)
    await session.execute(Promotion.__table__.update().values(uses=3, spent=2500))
    await session.commit()
    response = await client.patch(f"{URL}/{promotion['id']}", headers=writer, json={"usage_limit": 2, "budget": 100})
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("usage_limit", "below_uses"), ("budget", "below_spent")]
    ok = await client.patch(f"{URL}/{promotion['id']}", headers=writer, json={"usage_limit": 3, "budget": 2500})
    assert ok.status_code == 200


async def test_a_used_promotion_cannot_be_deleted_and_codes_need_a_coupon(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    auto = await create(client, writer, trigger="automatic")
    refused = await client.post(f"{URL}/{auto['id']}/codes", headers=writer, json={"codes": ["X1"]})
    assert (refused.status_code, refused.json()["code"]) == (409, "promotion.not_a_coupon")
    coupon = await create(client, writer, codes=["KEEP"])
    made_auto = await client.patch(f"{URL}/{coupon['id']}", headers=writer, json={"trigger": "automatic"})
    assert (made_auto.status_code, made_auto.json()["code"]) == (409, "promotion.not_a_coupon")
    session.add(PromotionRedemption(promotion_id=uuid.UUID(coupon["id"]), order_id=uuid.uuid4(), amount=100,
                                    currency="EUR"))
    await session.commit()
    in_use = await client.delete(f"{URL}/{coupon['id']}", headers=writer)
    assert (in_use.status_code, in_use.json()["code"]) == (409, "promotion.in_use")


async def test_codes_are_unique_across_promotions(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    first = await create(client, writer, codes=["ONE"])
    second = await create(client, writer)
    codes = f"{URL}/{second['id']}/codes"
    taken = await client.post(codes, headers=writer, json={"codes": ["two", "one", "TWO"]})
    assert (taken.status_code, taken.json()["code"]) == (409, "promotion.code_taken")
    assert [(e["field"], e["code"]) for e in taken.json()["errors"]] == [("codes.2", "duplicate"),
                                                                          ("codes.1", "taken")]
    taken_at_create = await client.post(URL, headers=writer, json={"name": "X", "trigger": "coupon",
                                                                   "benefit": PERCENT_10, "codes": ["one"]})
    assert taken_at_create.status_code == 409
    added = await client.post(codes, headers=writer, json={"codes": ["two", "three"], "max_uses": 5})
    assert (added.status_code, added.json()) == (201, {"added": 2})
    listed = (await client.get(codes, headers=writer)).json()["items"]
    assert [(c["code"], c["max_uses"], c["uses"]) for c in listed] == [("TWO", 5, 0), ("THREE", 5, 0)]
    assert (await client.delete(f"{codes}/{listed[0]['id']}", headers=writer)).status_code == 204
    wrong_owner = await client.delete(f"{URL}/{first['id']}/codes/{listed[1]['id']}", headers=writer)
    assert (wrong_owner.status_code, wrong_owner.json()["code"]) == (404, "promotion.code_not_found")
    assert await count(session, PromotionCode) == 2


async def test_bulk_generation_and_export(
    client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]
) -> None:
    promotion = await create(client, writer, codes=["HANDMADE"])
    codes = f"{URL}/{promotion['id']}/codes"
    response = await client.post(f"{codes}/generate", headers=writer | {"idempotency-key": "gen-1"},
                                 json={"count": 100_000, "prefix": "vip-", "length": 8})
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["count"] == 100_000
    replay = await client.post(f"{codes}/generate", headers=writer | {"idempotency-key": "gen-1"},
                               json={"count": 100_000, "prefix": "vip-", "length": 8})
    assert replay.json() == batch  # a retry makes no second batch
    generated = (await session.execute(select(PromotionCode.code, PromotionCode.max_uses).where(
        PromotionCode.batch_id == uuid.UUID(batch["batch_id"])))).all()
    assert len(generated) == 100_000 == len({code for code, _ in generated})
    assert {max_uses for _, max_uses in generated} == {1}
    assert all(code.startswith("VIP-") and len(code) == 12 and set(code[4:]) <= set(ALPHABET)
               for code, _ in generated)

    page = (await client.get(codes, headers=writer, params={"batch_id": batch["batch_id"], "limit": 3})).json()
    assert len(page["items"]) == 3
    assert page["next_cursor"]
    exported = await client.get(batch["export_url"], headers=writer)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 100_000
    assert {row["code"] for row in rows} == {code for code, _ in generated}
    everything = list(csv.DictReader(io.StringIO((await client.get(f"{codes}/export", headers=writer)).text)))
    assert len(everything) == 100_001

    too_many = await client.post(f"{codes}/generate", headers=writer, json={"count": 100_001})
    assert too_many.status_code == 422
    too_short = await client.post(f"{codes}/generate", headers=writer, json={"count": 100_000, "length": 6})
    assert (too_short.status_code, too_short.json()["errors"][0]["field"]) == (422, "length")


async def test_stats(client: httpx.AsyncClient, session: AsyncSession, writer: dict[str, str]) -> None:
    promotion = await create(client, writer, codes=["A", "B"], currency="EUR", budget=5000)
    stats = (await client.get(f"{URL}/{promotion['id']}/stats", headers=writer)).json()
    assert stats | {"last_redeemed_at": None} == {
        "promotion_id": promotion["id"], "currency": "EUR", "uses": 0, "usage_limit": None, "spent": 0,
        "budget": 5000, "orders": 0, "discount_total": 0, "customers": 0, "last_redeemed_at": None, "codes": 2,
        "codes_used": 0, "codes_used_up": 0}
