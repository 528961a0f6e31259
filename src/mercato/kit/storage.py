"""File storage behind one interface: uploaded media, renditions, import and export files.

Keys are relative paths ("media/<product>/<id>/original.jpg"). Reads and writes stream in chunks so
a large import file never sits in memory. `local` keeps files under MERCATO_MEDIA_DIR; an
S3-compatible backend plugs in behind the same protocol.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

from mercato.kit.settings import Settings

CHUNK = 1 << 16
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class StorageKeyError(ValueError):
    """A key that could escape the storage root or is otherwise not a plain relative path."""


class Storage(Protocol):
    async def write(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        """Store the streamed bytes under `key` (replacing any), returning the size written."""
        ...

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """Stream the bytes stored under `key`; FileNotFoundError when there are none."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error."""
        ...

    async def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str:
        """The public URL clients fetch the file from."""
        ...


def check_key(key: str) -> str:
    if len(key) > 300 or not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise StorageKeyError(f"invalid storage key {key!r}")
    return key


class LocalStorage:
    """Files under a directory; a write lands under a temporary name and is renamed into place,
    so a reader never sees half a file."""

    def __init__(self, root: Path, url_prefix: str) -> None:
        self.root = root
        self.url_prefix = url_prefix.rstrip("/")

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def write(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        target = self.path(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(os.replace, partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return size

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        async def one() -> AsyncIterator[bytes]:
            yield data

        await self.write(key, one(), content_type)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self.path(key)
        with path.open("rb") as source:
            while chunk := await asyncio.to_thread(source.read, CHUNK):
                yield chunk

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{check_key(key)}"


def build_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "local":
        return LocalStorage(settings.media_dir, settings.media_url_prefix)
    raise NotImplementedError(settings.storage_backend)  # the S3 backend is added with media uploads
