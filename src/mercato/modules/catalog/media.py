"""Product media: storing uploaded originals, the worker's renditions, alt text and ordering.

Files live in the storage backend under media/<product_id>/<media_id>/: `original.<ext>` (the
upload re-encoded without metadata) and `w<width>.<ext>` renditions. A media change is not a
product edit: it bumps no product version and records no revision, but it refreshes the listing
(thumbnail) and drops the cached product detail.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.db import after_commit
from mercato.kit.etag import etag_for
from mercato.kit.outbox import emit
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.kit.storage import Storage
from mercato.modules.catalog import listing
from mercato.modules.catalog.detail_cache import invalidate_product
from mercato.modules.catalog.errors import ProductNotFound
from mercato.modules.catalog.media_errors import (
    MediaNotFound,
    MediaOrderMismatch,
    MediaTooManyPixels,
    MediaUnsupportedType,
)
from mercato.modules.catalog.media_events import MediaUploaded
from mercato.modules.catalog.media_images import CleanImage, clean_upload, make_renditions
from mercato.modules.catalog.media_schemas import MediaOut, RenditionOut
from mercato.modules.catalog.media_upload import Upload
from mercato.modules.catalog.models import Product, ProductMedia

_log = structlog.get_logger("mercato.catalog.media")


def _uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def media_prefix(product_id: uuid.UUID, media_id: uuid.UUID) -> str:
    return f"media/{product_id}/{media_id}"


def media_out(media: ProductMedia) -> MediaOut:
    return MediaOut(
        id=str(media.id), product_id=str(media.product_id), url=media.url, alt=media.alt, position=media.position,
        status=media.status,
        content_type=media.content_type, width=media.width, height=media.height, size_bytes=media.size_bytes,
        sha256=media.sha256, renditions=[RenditionOut.model_validate(r) for r in media.renditions or []],
        created_at=media.created_at,
    )


def media_etag(media: ProductMedia) -> str:
    return etag_for(media_out(media).model_dump_json())


async def product_id_of(session: AsyncSession, product_id: str) -> uuid.UUID:
    """The product's id, or ProductNotFound (checked before an upload body is read)."""
    pid = _uuid(product_id)
    found = await session.scalar(select(Product.id).where(Product.id == pid)) if pid else None
    if found is None:
        raise ProductNotFound("No such product.")
    return found


async def get(session: AsyncSession, media_id: str, *, lock: bool = False) -> ProductMedia:
    mid = _uuid(media_id)
    if mid is None:
        raise MediaNotFound()
    stmt = select(ProductMedia).where(ProductMedia.id == mid)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    media = await session.scalar(stmt)
    if media is None:
        raise MediaNotFound()
    return media


async def list_for_product(
    session: AsyncSession, product_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[ProductMedia]:
    stmt = select(ProductMedia).where(ProductMedia.product_id == product_id)
    keys = [SortKey(ProductMedia.position), SortKey(ProductMedia.id)]
    return await keyset_page(session, stmt, keys, limit=limit, cursor=cursor)


async def upload(
    session: AsyncSession, cache: Cache, storage: Storage, product_id: uuid.UUID, file: Upload, *,
    alt: str, position: int | None, max_pixels: int,
) -> ProductMedia:
    """Check and clean the image, store the original, add the row (`processing`) and ask the worker
    for renditions. Nothing is stored when the image is refused."""
    image: CleanImage = await asyncio.to_thread(clean_upload, file.file, max_pixels=max_pixels)
    media_id = uuid.uuid4()
    key = f"{media_prefix(product_id, media_id)}/original.{image.extension}"
    if position is None:
        last = await session.scalar(
            select(func.max(ProductMedia.position)).where(ProductMedia.product_id == product_id)
        )
        position = 0 if last is None else last + 1
    await storage.put(key, image.data, image.content_type)
    media = ProductMedia(
        id=media_id, product_id=product_id, url=storage.url(key), alt=alt, position=position, storage_key=key,
        content_type=image.content_type, width=image.width, height=image.height, size_bytes=len(image.data),
        sha256=image.sha256, status="processing", renditions=[],
    )
    session.add(media)
    try:
        await session.flush()
    except BaseException:
        await storage.delete(key)
        raise
    await session.refresh(media, ["created_at"])
    await emit(session, MediaUploaded(media_id=str(media_id), product_id=str(product_id), storage_key=key))
    await _changed(session, cache, product_id)
    return media


async def update_media(
    session: AsyncSession, cache: Cache, media: ProductMedia, *, alt: str | None, position: int | None
) -> ProductMedia:
    if alt is not None:
        media.alt = alt
    if position is not None:
        media.position = position
    await session.flush()
    await _changed(session, cache, media.product_id)
    return media


async def delete_media(session: AsyncSession, cache: Cache, storage: Storage, media: ProductMedia) -> None:
    """Delete the row now and its files once that commits (a rolled-back delete keeps them)."""
    keys = [media.storage_key, *(r.get("storage_key") for r in media.renditions or [])]
    product_id = media.product_id
    await session.delete(media)
    await session.flush()
    await _changed(session, cache, product_id)

    async def remove_files() -> None:
        for key in keys:
            if key:
                await storage.delete(key)

    after_commit(session, remove_files)


async def reorder(session: AsyncSession, cache: Cache, product_id: uuid.UUID, ids: Sequence[str]) -> list[ProductMedia]:
    """Positions 0..n-1 in the order given; `ids` must be exactly the product's media."""
    rows = list((await session.scalars(
        select(ProductMedia).where(ProductMedia.product_id == product_id).with_for_update()
    )).all())
    wanted = [_uuid(i) for i in ids]
    by_id = {row.id: row for row in rows}
    if len(set(wanted)) != len(wanted) or set(wanted) != set(by_id):
        raise MediaOrderMismatch()
    for position, mid in enumerate(wanted):
        by_id[mid].position = position  # type: ignore[index]  # every id matched a row above
    await session.flush()
    await _changed(session, cache, product_id)
    return [by_id[mid] for mid in wanted if mid is not None]


async def render(
    session: AsyncSession, storage: Storage, cache: Cache, media_id: uuid.UUID, *, max_pixels: int
) -> str:
    """The worker's job: derive the renditions of a `processing` media item. Idempotent: a redelivery
    finds it `ready` or `failed` (or deleted) and does nothing; renditions are written under fixed
    keys, so a retried attempt overwrites rather than duplicates. Returns the resulting status."""
    media = await session.scalar(
        select(ProductMedia).where(ProductMedia.id == media_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if media is None:
        return "deleted"
    if media.status != "processing" or media.storage_key is None:
        return media.status
    try:
        original = await storage.get(media.storage_key)
        renditions = await asyncio.to_thread(make_renditions, original, max_pixels=max_pixels)
    except (FileNotFoundError, MediaUnsupportedType, MediaTooManyPixels) as exc:
        _log.warning("media_render_failed", media_id=str(media_id), error=str(exc))
        media.status = "failed"
    else:
        entries: list[dict[str, Any]] = []
        prefix = media_prefix(media.product_id, media.id)
        for rendition in renditions:
            key = f"{prefix}/w{rendition.width}.{rendition.extension}"
            await storage.put(key, rendition.data, rendition.content_type)
            entries.append({
                "width": rendition.width, "height": rendition.height, "format": rendition.format,
                "content_type": rendition.content_type, "url": storage.url(key), "storage_key": key,
                "size_bytes": len(rendition.data),
            })
        media.renditions = entries
        media.status = "ready"
    await session.flush()
    await listing.refresh(session, [media.product_id])
    after_commit(session, _invalidator(cache, media.product_id))
    return media.status


async def _changed(session: AsyncSession, cache: Cache, product_id: uuid.UUID) -> None:
    await listing.refresh(session, [product_id])
    after_commit(session, _invalidator(cache, product_id))


def _invalidator(cache: Cache, product_id: uuid.UUID) -> Any:
    async def invalidate() -> None:
        await invalidate_product(cache, product_id)

    return invalidate

