"""Worker job: renditions (WebP and JPEG at responsive widths) for each uploaded product image."""

from __future__ import annotations

import uuid
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import process_cache
from mercato.kit.outbox import DeliveredEvent, on
from mercato.kit.settings import Settings, load_settings
from mercato.kit.storage import Storage, build_storage
from mercato.modules.catalog import media
from mercato.modules.catalog.media_events import MediaUploaded


@lru_cache(maxsize=1)
def resources() -> tuple[Settings, Storage]:
    """Built once per worker process: an S3 client is not made per event."""
    settings = load_settings()
    return settings, build_storage(settings)


@on(MediaUploaded.name)
async def render_media(session: AsyncSession, event: DeliveredEvent) -> None:
    settings, storage = resources()
    cache = process_cache(settings)
    await media.render(session, storage, cache, uuid.UUID(event.payload["media_id"]),
                       max_pixels=settings.media_max_pixels)
