"""/admin/imports and /admin/exports over HTTP, with the worker's handler really running the jobs."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import mercato.modules.catalog.handlers  # noqa: F401 - registers the import/export handlers
from mercato.kit.db import Database
from mercato.kit.outbox import registry
from mercato.kit.settings import Settings
from mercato.worker.dispatcher import Dispatcher
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.import_factories import checksum, csv_bytes, generate_rows, make_taxonomy


def _auth(settings: Settings, *permissions: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff_token_for(settings, list(permissions))}"}


async def _work(engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """What `mercato worker` does: deliver the pending outbox events to their handlers."""
    dispatcher = Dispatcher(Database(engine_db.engine, sessionmaker), registry, settings)
    while await dispatcher.run_batch():
        pass


async def test_upload_runs_in_the_worker_and_reports_errors(
    client: httpx.AsyncClient, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
    engine_db: Database, settings: Settings,
) -> None:
    await make_taxonomy(session)
    await session.commit()
    rows, expected = generate_rows(600, bad_every=20)
    writer = _auth(settings, "catalog:read", "catalog:write", "catalog:publish")  # the rows publish products
    response = await client.post("/admin/imports", content=csv_bytes(rows),
                                 headers={**writer, "Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert job["kind"] == "import"
    assert job["format"] == "csv"
    assert response.headers["Location"] == f"/admin/imports/{job['id']}"

    await _work(engine_db, sessionmaker, settings)

    response = await client.get(f"/admin/imports/{job['id']}", headers=writer)
    assert response.status_code == 200
    done = response.json()
    assert done["status"] == "succeeded", done
    assert done["counts"]["rows"] == 600
    assert done["counts"]["failed"] == len(expected.bad) == 30
    assert done["counts"]["created"] == expected.good_rows
    assert done["duration_s"] is not None
    assert done["rows_per_s"] > 0

    seen: list[tuple[int, str]] = []
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/admin/imports/{job['id']}/errors", params=params, headers=writer)).json()
        assert len(page["items"]) <= 7
        seen += [(item["row"], item["field"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(expected.bad.items())


async def test_multipart_jsonl_and_dry_run(
    client: httpx.AsyncClient, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
    engine_db: Database, settings: Settings,
) -> None:
    await make_taxonomy(session)
    await session.commit()
    before = await checksum(session)
    line = (b'{"product_slug": "mug", "product_name": "Mug", "product_type": "homeware", "attr.material": "glass",'
            b' "sku": "MUG-1", "price.web-eu": 999, "tags": ["kitchen"]}\n')
    response = await client.post("/admin/imports?dry_run=true", files={"file": ("mugs.jsonl", line)},
                                 headers=_auth(settings, "catalog:write"))
    assert response.status_code == 202, response.text
    assert response.json()["format"] == "jsonl"
    assert response.json()["dry_run"] is True
    await _work(engine_db, sessionmaker, settings)
    job = (await client.get(response.headers["Location"], headers=_auth(settings, "catalog:read"))).json()
    assert job["status"] == "succeeded"
    assert job["counts"]["created"] == 1
    assert job["counts"]["products_created"] == 1
    assert await checksum(session) == before  # a dry run writes nothing but the job


async def test_malformed_files_fail_the_job_not_the_request(
    client: httpx.AsyncClient, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
    engine_db: Database, settings: Settings,
) -> None:
    await make_taxonomy(session)
    await session.commit()
    writer = _auth(settings, "catalog:read", "catalog:write")
    cases = {
        b"name,price\nx,1\n": "lacks the column",
        b"\xff\xfe\x00garbage": "not UTF-8",
        b'product_slug,product_name,sku\n"a,b,c\n': "quoted field",
        b"product_slug,product_name,sku,price.mars\na,A,S1,100\n": "Unknown channel",
    }
    for body, message in cases.items():
        response = await client.post("/admin/imports", content=body, headers={**writer, "Content-Type": "text/csv"})
        assert response.status_code == 202, response.text
        await _work(engine_db, sessionmaker, settings)
        job = (await client.get(response.headers["Location"], headers=writer)).json()
        assert job["status"] == "failed", job
        assert message in job["error"], job["error"]
    assert await session.scalar(text("SELECT count(*) FROM products")) == 0


async def test_refusals(client: httpx.AsyncClient, settings: Settings) -> None:
    body = b"product_slug,product_name,sku\na,A,S1\n"
    csv_type = {"Content-Type": "text/csv"}
    response = await client.post("/admin/imports", content=body, headers=csv_type)
    assert response.status_code == 401
    reader = _auth(settings, "catalog:read")
    response = await client.post("/admin/imports", content=body, headers={**csv_type, **reader})
    assert response.status_code == 403
    writer = _auth(settings, "catalog:write")
    response = await client.post("/admin/imports", content=body, headers={**writer, "Content-Type": "image/png"})
    assert response.status_code == 415
    response = await client.post("/admin/imports", content=b"", headers={**writer, **csv_type})
    assert response.status_code == 422
    assert response.json()["code"] == "catalog.import_empty"
    response = await client.get("/admin/imports/not-a-uuid", headers=_auth(settings, "catalog:read"))
    assert response.status_code == 404
    assert response.json()["code"] == "catalog.job_not_found"
    response = await client.post("/admin/exports?format=xml", headers=_auth(settings, "catalog:read"))
    assert response.status_code == 422
    response = await client.post("/admin/exports", headers=_auth(settings, "catalog:write"))
    assert response.status_code == 403


async def test_export_over_http(
    client: httpx.AsyncClient, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
    engine_db: Database, settings: Settings,
) -> None:
    await make_taxonomy(session)
    await session.commit()
    rows, expected = generate_rows(50, bad_every=1000)
    writer = _auth(settings, "catalog:read", "catalog:write", "catalog:publish")
    await client.post("/admin/imports", content=csv_bytes(rows), headers={**writer, "Content-Type": "text/csv"})
    await _work(engine_db, sessionmaker, settings)
    reader = _auth(settings, "catalog:read")
    response = await client.post("/admin/exports?format=csv", headers=reader)
    assert response.status_code == 202
    location = response.headers["Location"]
    not_ready = await client.get(f"{location}/file", headers=reader)
    assert not_ready.status_code == 404
    assert not_ready.json()["code"] == "catalog.export_not_ready"
    await _work(engine_db, sessionmaker, settings)
    job = (await client.get(location, headers=reader)).json()
    assert job["status"] == "succeeded"
    assert job["counts"]["rows"] == expected.good_rows == 50
    file = await client.get(job["file_url"], headers=reader)
    assert file.status_code == 200
    assert file.headers["content-type"].startswith("text/csv")
    lines = file.text.strip().split("\n")
    assert len(lines) == 51
    assert lines[0].startswith("product_slug,product_name,")


async def test_an_editor_cannot_publish_through_an_import(
    client: httpx.AsyncClient, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
    engine_db: Database, settings: Settings,
) -> None:
    await make_taxonomy(session)
    await session.commit()
    rows, _ = generate_rows(40, bad_every=1000)
    editor = _auth(settings, "catalog:read", "catalog:write")
    response = await client.post("/admin/imports", content=csv_bytes(rows),
                                 headers={**editor, "Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    await _work(engine_db, sessionmaker, settings)
    job_id = response.json()["id"]
    done = (await client.get(f"/admin/imports/{job_id}", headers=editor)).json()
    published_rows = [i + 1 for i, row in enumerate(rows) if row["status"] == "published"]
    assert published_rows
    assert done["counts"]["failed"] == len(published_rows)
    errors = (await client.get(f"/admin/imports/{job_id}/errors", params={"limit": 100}, headers=editor)).json()
    assert [(e["row"], e["field"]) for e in errors["items"]] == [(row, "status") for row in published_rows]
    assert "catalog:publish" in errors["items"][0]["message"]
    statuses = (await session.execute(text("SELECT DISTINCT status FROM products"))).scalars().all()
    assert list(statuses) == ["draft"]
