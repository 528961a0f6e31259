"""Product media over HTTP: real uploads of generated images, the rendition job run through the real
outbox dispatcher, file serving, ordering, deletion and permissions."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import ExifTags, Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.cache import MemoryCache
from mercato.kit.db import Database
from mercato.kit.outbox import HandlerRegistry, OutboxEvent
from mercato.kit.settings import Settings
from mercato.modules.catalog.handlers import media as media_handlers
from mercato.modules.catalog.models import Product, ProductListing, ProductMedia
from mercato.worker.dispatcher import Dispatcher
from tests.fixtures.auth import staff_token_for
from tests.integration.catalog.factories import make_product, refresh

MAX_BYTES = 300_000
MAX_PIXELS = 4_000_000


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def media_settings(settings: Settings, media_dir: Path) -> Settings:
    return settings.model_copy(update={"media_dir": media_dir, "media_max_bytes": MAX_BYTES,
                                       "media_max_pixels": MAX_PIXELS})


@pytest.fixture
def media_app(media_settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    return create_app(media_settings, database=Database(engine_db.engine, sessionmaker))


@pytest.fixture
async def http(media_app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=media_app, raise_app_exceptions=False)
    token = staff_token_for(settings, ["catalog:read", "catalog:write"])
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def run_worker(
    engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
    media_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], Any]:
    """One batch of the real dispatcher, delivering to the real media handler; the handler builds
    its storage from the environment, as in a `mercato worker` process."""
    monkeypatch.setenv("MERCATO_MEDIA_DIR", str(media_dir))
    monkeypatch.setenv("MERCATO_MEDIA_MAX_PIXELS", str(MAX_PIXELS))
    media_handlers.resources.cache_clear()
    registry = HandlerRegistry()
    registry.register("catalog.media_uploaded", media_handlers.render_media)
    dispatcher = Dispatcher(Database(engine_db.engine, sessionmaker), registry, settings)

    async def run() -> int:
        return await dispatcher.run_batch()

    yield run
    media_handlers.resources.cache_clear()


def picture(size: tuple[int, int] = (800, 400), fmt: str = "JPEG", *, exif: Image.Exif | None = None,
            noise: bool = False, mode: str = "RGB") -> bytes:
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new(mode, size, "white" if mode == "RGB" else 255)
        # A red left half, so orientation is visible after the upright turn.
        image.paste(Image.new(mode, (size[0] // 2, size[1]), "red" if mode == "RGB" else 0), (0, 0))
    out = io.BytesIO()
    options: dict[str, Any] = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def gps_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (51.0, 30.0, 0.0),
        ExifTags.GPS.GPSLongitudeRef: "W", ExifTags.GPS.GPSLongitude: (0.0, 7.0, 0.0),
    }
    return exif


def bomb_png(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims `width` x `height` pixels."""
    small = picture((8, 8), "PNG", mode="L")
    ihdr_at = small.index(b"IHDR")
    header = bytearray(small[ihdr_at:ihdr_at + 17])
    header[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(header)) & 0xFFFFFFFF)
    return small[:ihdr_at] + bytes(header) + crc + small[ihdr_at + 21:]


async def product(session: AsyncSession) -> Product:
    made = await make_product(session, "Lamp")
    await refresh(session, [made])
    await session.commit()
    return made


async def upload(http: httpx.AsyncClient, product_id: uuid.UUID | str, data: bytes, *, name: str = "photo.jpg",
                 declared: str = "image/jpeg", **fields: str) -> httpx.Response:
    return await http.post(f"/admin/products/{product_id}/media", files={"file": (name, data, declared)},
                           data=fields)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def media_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ProductMedia)) or 0)


async def test_upload_strips_exif_and_turns_the_image_upright(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path
) -> None:
    made = await product(session)
    original = picture((800, 400), exif=gps_exif(orientation=6))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture has GPS
    response = await upload(http, made.id, original, alt="  A lamp  ", declared="text/plain")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "processing"
    assert body["alt"] == "A lamp"
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (400, 800)  # orientation 6: stored turned upright
    assert body["renditions"] == []
    assert response.headers["location"] == f"/admin/media/{body['id']}"
    assert response.headers["etag"]
    key = f"media/{made.id}/{body['id']}/original.jpg"
    assert body["url"] == f"/media/{key}"

    stored = (media_dir / key).read_bytes()
    assert body["size_bytes"] == len(stored)
    assert body["sha256"] == hashlib.sha256(stored).hexdigest()
    assert b"Exif" not in stored
    assert b"PhoneCo" not in stored
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif()
    assert "exif" not in image.info
    assert image.size == (400, 800)
    rgb = image.convert("RGB")
    # Orientation 6 means "turn 90° clockwise to view": the red left half ends up on top.
    assert rgb.getpixel((200, 10))[1] < 60
    assert rgb.getpixel((200, 790))[1] > 200

    event = (await session.scalars(select(OutboxEvent).where(OutboxEvent.name == "catalog.media_uploaded"))).one()
    assert event.payload == {"media_id": body["id"], "product_id": str(made.id), "storage_key": key}
    listing = (await session.scalars(select(ProductListing).where(ProductListing.product_id == made.id))).one()
    assert listing.thumbnail == body["url"]


@pytest.mark.parametrize(("fmt", "content_type", "extension"), [
    ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp"), ("GIF", "image/gif", "gif"),
])
async def test_other_formats_are_sniffed_from_the_bytes(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path, fmt: str, content_type: str, extension: str
) -> None:
    made = await product(session)
    response = await upload(http, made.id, picture((300, 200), fmt), name="whatever.jpg", declared="image/jpeg")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == content_type
    assert body["url"].endswith(f"/original.{extension}")
    assert Image.open(media_dir / body["url"].removeprefix("/media/")).format == fmt


async def test_positions_default_to_the_end_and_can_be_given(http: httpx.AsyncClient, session: AsyncSession) -> None:
    made = await product(session)
    first = (await upload(http, made.id, picture())).json()
    second = (await upload(http, made.id, picture())).json()
    third = (await upload(http, made.id, picture(), position="7")).json()
    assert (first["position"], second["position"], third["position"]) == (0, 1, 7)
    bad = await upload(http, made.id, picture(), position="-1")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "position"


async def test_too_many_bytes_is_413_and_stores_nothing(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path
) -> None:
    made = await product(session)
    big = picture((400, 400), "PNG", noise=True)
    assert len(big) > MAX_BYTES
    response = await upload(http, made.id, big, name="big.png")
    assert response.status_code == 413
    assert response.json()["code"] == "media.too_large"
    assert stored_files(media_dir) == []
    assert await media_count(session) == 0


async def test_the_byte_limit_is_enforced_while_the_body_streams(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path
) -> None:
    """No Content-Length (chunked): the upload is refused once the limit is passed, without the
    rest of the body being read."""
    made = await product(session)
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    chunk = os.urandom(64 * 1024)
    total_chunks = 14  # ~900 KB: below the app-wide body limit, far above the media limit
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(total_chunks):
            sent += 1
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await http.post(f"/admin/products/{made.id}/media", content=body(),
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert response.json()["code"] == "media.too_large"
    assert sent < total_chunks
    assert stored_files(media_dir) == []


async def test_declared_length_over_the_limit_is_refused_before_reading(
    http: httpx.AsyncClient, session: AsyncSession
) -> None:
    made = await product(session)
    response = await http.post(f"/admin/products/{made.id}/media", content=b"x" * 10,
                               headers={"Content-Type": "multipart/form-data; boundary=x",
                                        "Content-Length": str(MAX_BYTES + 70_000)})
    assert response.status_code == 413
    assert response.json()["code"] == "media.too_large"


@pytest.mark.parametrize("data", [
    pytest.param(picture((2500, 2000), "PNG", mode="L"), id="over-the-setting"),
    pytest.param(bomb_png(100_000, 100_000), id="decompression-bomb"),
])
async def test_too_many_pixels_is_422_and_stores_nothing(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path, data: bytes
) -> None:
    made = await product(session)
    assert len(data) < MAX_BYTES
    response = await upload(http, made.id, data, name="huge.png", declared="image/png")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "media.too_many_pixels"
    assert stored_files(media_dir) == []
    assert await media_count(session) == 0


@pytest.mark.parametrize(("name", "data"), [
    ("notes.jpg", b"just some text, not a picture\n" * 20),
    ("empty.jpg", b""),
    ("truncated.png", picture((200, 200), "PNG", noise=True)[:2000]),
    ("doc.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
])
async def test_not_an_image_is_415(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path, name: str, data: bytes
) -> None:
    made = await product(session)
    response = await upload(http, made.id, data, name=name)
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "media.unsupported_type"
    assert stored_files(media_dir) == []
    assert await media_count(session) == 0


async def test_malformed_uploads(http: httpx.AsyncClient, session: AsyncSession) -> None:
    made = await product(session)
    url = f"/admin/products/{made.id}/media"
    no_file = await http.post(url, data={"alt": "x"}, files={"other": ("a.txt", b"a", "text/plain")})
    assert no_file.status_code == 422
    assert no_file.json()["code"] == "media.invalid_upload"
    only_text = await http.post(url, files={"alt": (None, "just alt")})
    assert only_text.status_code == 422
    assert only_text.json()["errors"][0] == {"field": "file", "code": "missing",
                                             "message": "Attach the image as the part named 'file'."}
    as_json = await http.post(url, json={"file": "x"})
    assert as_json.status_code == 415
    long_alt = await upload(http, made.id, picture(), alt="a" * 301)
    assert long_alt.status_code == 422
    assert long_alt.json()["errors"][0]["field"] == "alt"
    assert await media_count(session) == 0


async def test_unknown_product_is_404(http: httpx.AsyncClient) -> None:
    for ref in (uuid.uuid4(), "not-a-uuid"):
        response = await upload(http, ref, picture())
        assert response.status_code == 404
        assert response.json()["code"] == "catalog.product_not_found"


async def test_the_worker_makes_webp_and_jpeg_renditions(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path, run_worker: Callable[[], Any],
) -> None:
    made = await product(session)
    body = (await upload(http, made.id, picture((1500, 1000), noise=False))).json()
    small = (await upload(http, made.id, picture((500, 300), "PNG"))).json()
    assert await run_worker() == 2

    detail = (await http.get(f"/admin/media/{body['id']}")).json()
    assert detail["status"] == "ready"
    by_format: dict[str, list[int]] = {}
    for rendition in detail["renditions"]:
        by_format.setdefault(rendition["format"], []).append(rendition["width"])
        path = media_dir / rendition["url"].removeprefix("/media/")
        image = Image.open(path)
        assert image.format == {"webp": "WEBP", "jpeg": "JPEG"}[rendition["format"]]
        assert image.size == (rendition["width"], rendition["height"])
        assert rendition["size_bytes"] == path.stat().st_size
        assert rendition["height"] == round(1000 * rendition["width"] / 1500)
    assert sorted(by_format["webp"]) == [320, 640, 1280, 1500]
    assert sorted(by_format["jpeg"]) == [320, 640, 1280, 1500]

    small_detail = (await http.get(f"/admin/media/{small['id']}")).json()
    assert small_detail["status"] == "ready"
    assert sorted({r["width"] for r in small_detail["renditions"]}) == [320, 500]

    # Redelivery changes nothing: the item is no longer processing.
    from mercato.modules.catalog import media

    _, storage = media_handlers.resources()
    cache = MemoryCache()  # nothing to invalidate: the item is not processing any more
    assert await media.render(session, storage, cache, uuid.UUID(body["id"]), max_pixels=MAX_PIXELS) == "ready"


async def test_an_undecodable_original_ends_failed(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path, run_worker: Callable[[], Any],
) -> None:
    made = await product(session)
    body = (await upload(http, made.id, picture())).json()
    (media_dir / body["url"].removeprefix("/media/")).write_bytes(b"garbage")
    assert await run_worker() == 1
    detail = (await http.get(f"/admin/media/{body['id']}")).json()
    assert detail["status"] == "failed"
    assert detail["renditions"] == []
    event = (await session.scalars(select(OutboxEvent).where(OutboxEvent.name == "catalog.media_uploaded"))).one()
    await session.refresh(event)
    assert event.status == "done"  # a bad image is an outcome, not a retry


async def test_a_deleted_item_is_skipped_by_the_worker(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path, run_worker: Callable[[], Any],
) -> None:
    made = await product(session)
    body = (await upload(http, made.id, picture())).json()
    assert (await http.delete(f"/admin/media/{body['id']}")).status_code == 204
    assert await run_worker() == 1
    assert stored_files(media_dir) == []


async def test_served_files_carry_long_cache_headers(http: httpx.AsyncClient, session: AsyncSession) -> None:
    made = await product(session)
    body = (await upload(http, made.id, picture())).json()
    anonymous = httpx.AsyncClient(transport=http._transport, base_url="http://test")
    async with anonymous:
        response = await anonymous.get(body["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert int(response.headers["content-length"]) == body["size_bytes"]
        assert hashlib.sha256(response.content).hexdigest() == body["sha256"]
        etag = response.headers["etag"]
        again = await anonymous.get(body["url"], headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag

        for path in (f"/media/media/{made.id}/{uuid.uuid4()}/original.jpg", "/media/media/..%2F..%2Fetc%2Fpasswd",
                     "/media/media/%2e%2e/%2e%2e/secret", "/media/imports/job.csv", "/media/"):
            missing = await anonymous.get(path)
            assert missing.status_code == 404, path
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["code"] == "media.file_not_found"


async def test_files_outside_media_are_not_served(
    http: httpx.AsyncClient, media_app: FastAPI, media_dir: Path
) -> None:
    await media_app.state.storage.put("imports/secret.csv", b"a,b\n", "text/csv")
    assert (media_dir / "imports/secret.csv").exists()
    response = await http.get("/media/imports/secret.csv")
    assert response.status_code == 404


async def test_edit_reorder_list_and_delete(
    http: httpx.AsyncClient, session: AsyncSession, media_dir: Path
) -> None:
    made = await product(session)
    ids = [(await upload(http, made.id, picture(), alt=f"view {n}")).json()["id"] for n in range(3)]

    current = await http.get(f"/admin/media/{ids[0]}")
    patched = await http.patch(f"/admin/media/{ids[0]}", json={"alt": "Front view"},
                               headers={"If-Match": current.headers["etag"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["alt"] == "Front view"
    assert patched.headers["etag"] != current.headers["etag"]
    stale = await http.patch(f"/admin/media/{ids[0]}", json={"alt": "x"},
                             headers={"If-Match": current.headers["etag"]})
    assert stale.status_code == 412
    assert (await http.patch(f"/admin/media/{ids[0]}", json={"colour": "red"})).status_code == 422
    assert (await http.patch(f"/admin/media/{uuid.uuid4()}", json={"alt": "x"})).json()["code"] == "media.not_found"

    wrong = await http.put(f"/admin/products/{made.id}/media/order", json={"ids": ids[:2]})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "media.order_mismatch"
    twice = await http.put(f"/admin/products/{made.id}/media/order", json={"ids": [ids[0], ids[0], ids[1]]})
    assert twice.status_code == 422
    reordered = await http.put(f"/admin/products/{made.id}/media/order", json={"ids": [ids[2], ids[0], ids[1]]})
    assert reordered.status_code == 200, reordered.text
    assert [(m["id"], m["position"]) for m in reordered.json()["items"]] == [(ids[2], 0), (ids[0], 1), (ids[1], 2)]

    page = await http.get(f"/admin/products/{made.id}/media", params={"limit": 2})
    assert [m["id"] for m in page.json()["items"]] == [ids[2], ids[0]]
    rest = await http.get(f"/admin/products/{made.id}/media", params={"cursor": page.json()["next_cursor"]})
    assert [m["id"] for m in rest.json()["items"]] == [ids[1]]
    listing = (await session.scalars(select(ProductListing).where(ProductListing.product_id == made.id))).one()
    await session.refresh(listing)
    assert listing.thumbnail is not None
    assert ids[2] in listing.thumbnail

    version_before = (await session.scalar(select(Product.version).where(Product.id == made.id)))
    gone = await http.get(f"/admin/media/{ids[2]}")
    deleted = await http.delete(f"/admin/media/{ids[2]}", headers={"If-Match": gone.headers["etag"]})
    assert deleted.status_code == 204
    assert (await http.get(f"/admin/media/{ids[2]}")).status_code == 404
    assert not any(ids[2] in str(p) for p in stored_files(media_dir))
    assert len(stored_files(media_dir)) == 2
    await session.refresh(listing)
    assert listing.thumbnail is not None
    assert ids[0] in listing.thumbnail
    assert (await session.scalar(select(Product.version).where(Product.id == made.id))) == version_before


async def test_media_changes_reach_the_cached_product_detail(http: httpx.AsyncClient, session: AsyncSession) -> None:
    made = await product(session)
    before = await http.get(f"/store/products/{made.id}")
    assert before.status_code == 200, before.text
    assert before.json()["images"] == []
    body = (await upload(http, made.id, picture(), alt="Lamp")).json()
    after = await http.get(f"/store/products/{made.id}")
    assert [image["url"] for image in after.json()["images"]] == [body["url"]]
    await http.patch(f"/admin/media/{body['id']}", json={"alt": "Desk lamp"})
    edited = await http.get(f"/store/products/{made.id}")
    assert edited.json()["images"][0]["alt"] == "Desk lamp"


async def test_writes_need_catalog_write(
    media_app: FastAPI, settings: Settings, http: httpx.AsyncClient, session: AsyncSession, media_dir: Path
) -> None:
    made = await product(session)
    existing = (await upload(http, made.id, picture())).json()
    files_before = stored_files(media_dir)
    reader = staff_token_for(settings, ["catalog:read"])
    transport = httpx.ASGITransport(app=media_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers={"Authorization": f"Bearer {reader}"}) as client:
        denied = [
            await client.post(f"/admin/products/{made.id}/media", files={"file": ("a.jpg", picture(), "image/jpeg")}),
            await client.patch(f"/admin/media/{existing['id']}", json={"alt": "x"}),
            await client.delete(f"/admin/media/{existing['id']}"),
            await client.put(f"/admin/products/{made.id}/media/order", json={"ids": [existing["id"]]}),
        ]
        assert [r.status_code for r in denied] == [403] * 4
        assert {r.json()["code"] for r in denied} == {"auth.forbidden"}
        assert (await client.get(f"/admin/products/{made.id}/media")).status_code == 200
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        assert (await anonymous.post(f"/admin/products/{made.id}/media",
                                     files={"file": ("a.jpg", picture(), "image/jpeg")})).status_code == 401
    assert stored_files(media_dir) == files_before
    assert await media_count(session) == 1
    assert (await http.get(f"/admin/media/{existing['id']}")).json()["alt"] == ""


async def test_uploads_may_exceed_the_app_wide_body_limit(
    settings: Settings, media_dir: Path, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
) -> None:
    roomy = settings.model_copy(update={"media_dir": media_dir, "media_max_bytes": 3_000_000})
    app = create_app(roomy, database=Database(engine_db.engine, sessionmaker))
    made = await product(session)
    data = picture((750, 700), "PNG", noise=True)
    assert roomy.max_body_bytes < len(data) < roomy.media_max_bytes
    token = staff_token_for(settings, ["catalog:write"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        response = await upload(client, made.id, data, name="big.png")
        assert response.status_code == 201, response.text
        elsewhere = await client.post("/admin/roles", content=b"x" * (roomy.max_body_bytes + 1),
                                      headers={"Content-Type": "application/json"})
        assert elsewhere.status_code == 413
        assert elsewhere.json()["code"] == "request.too_large"


async def test_the_storefront_shows_ready_images_with_their_renditions(
    http: httpx.AsyncClient, session: AsyncSession, run_worker: Callable[[], Any],
) -> None:
    made = await product(session)
    body = (await upload(http, made.id, picture((800, 400)), alt="Lamp")).json()
    broken = (await upload(http, made.id, picture())).json()
    await session.execute(
        ProductMedia.__table__.update().where(ProductMedia.id == uuid.UUID(broken["id"])).values(status="failed")
    )
    await session.commit()
    assert await run_worker() == 2
    # The worker's cache is not the app's: drop the app's cached detail as the web process would.
    from mercato.modules.catalog import invalidate_product

    await invalidate_product(http._transport.app.state.cache, made.id)  # type: ignore[attr-defined]
    detail = (await http.get(f"/store/products/{made.id}")).json()
    assert len(detail["images"]) == 1  # the failed one is not shown
    image = detail["images"][0]
    assert (image["url"], image["alt"], image["width"], image["height"]) == (body["url"], "Lamp", 800, 400)
    assert sorted((r["format"], r["width"]) for r in image["renditions"]) == [
        ("jpeg", 320), ("jpeg", 640), ("jpeg", 800), ("webp", 320), ("webp", 640), ("webp", 800)]
    prefix = body["url"].removesuffix("original.jpg")
    assert {r["url"] for r in image["renditions"]} == {
        f"{prefix}w{w}.{ext}" for w in (320, 640, 800) for ext in ("jpg", "webp")}
    assert all("storage_key" not in r for r in image["renditions"])
