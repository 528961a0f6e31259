"""File storage behind one interface: uploaded media, renditions, import and export files.

Keys are relative paths ("media/<product>/<id>/original.jpg"). Reads and writes stream in chunks so
a large import file never sits in memory. `local` keeps files under MERCATO_MEDIA_DIR; `s3` keeps
them in a bucket of any S3-compatible service (boto3, whose blocking calls run in worker threads).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mercato.kit.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK = 1 << 16
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class StorageKeyError(ValueError):
    """A key that could escape the storage root or is otherwise not a plain relative path."""


@dataclass(frozen=True)
class StoredFile:
    size: int
    # Changes whenever the stored bytes do (a content hash or a size/mtime stamp).
    version: str


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

    async def stat(self, key: str) -> StoredFile | None:
        """Size and version of the file under `key`; None when there is none."""
        ...

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

    async def stat(self, key: str) -> StoredFile | None:
        try:
            info = await asyncio.to_thread(self.path(key).stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return StoredFile(info.st_size, f"{info.st_size:x}-{info.st_mtime_ns:x}")

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{check_key(key)}"


# S3 wants every part but the last to be at least 5 MiB; 8 MiB keeps the part count low.
S3_PART_SIZE = 8 * 1024 * 1024


class S3Storage:
    """Objects in one bucket. A streamed write goes up as a multipart upload, part by part, so the
    whole file never sits in memory; anything smaller than one part is a single PUT. An upload that
    fails midway is aborted, so no half-written object (nor orphaned parts) is left."""

    def __init__(self, client: S3Client, bucket: str, public_url: str, *, part_size: int = S3_PART_SIZE) -> None:
        self.client = client
        self.bucket = bucket
        self.public_url = public_url.rstrip("/")
        self.part_size = part_size

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        import boto3

        if not settings.s3_bucket:
            raise ValueError("MERCATO_S3_BUCKET is not set")
        secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id, aws_secret_access_key=secret,
        )
        return cls(client, settings.s3_bucket, settings.s3_public_url or _bucket_url(settings, settings.s3_bucket))

    async def write(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        check_key(key)
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= self.part_size:
                    if upload_id is None:
                        created = await asyncio.to_thread(
                            self.client.create_multipart_upload, Bucket=self.bucket, Key=key, ContentType=content_type
                        )
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                await self.put(key, bytes(buffer), content_type)
                return size
            if buffer or not parts:
                parts.append(await self._upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
            await asyncio.to_thread(
                self.client.complete_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        except BaseException:
            if upload_id is not None:
                await asyncio.to_thread(
                    self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        return size

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        answer = await asyncio.to_thread(
            self.client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object, Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type
        )

    async def read(self, key: str) -> AsyncIterator[bytes]:
        body = (await self._get_object(key))["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def get(self, key: str) -> bytes:
        body = (await self._get_object(key))["Body"]
        try:
            return await asyncio.to_thread(body.read)
        finally:
            body.close()

    async def _get_object(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(key) from None
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=check_key(key))

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def stat(self, key: str) -> StoredFile | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return StoredFile(int(head["ContentLength"]), str(head["ETag"]).strip('"'))

    def url(self, key: str) -> str:
        return f"{self.public_url}/{check_key(key)}"


def _missing(exc: Any) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _bucket_url(settings: Settings, bucket: str) -> str:
    if settings.s3_endpoint_url:
        return f"{settings.s3_endpoint_url.rstrip('/')}/{bucket}"  # path style: works on every S3 clone
    region = settings.s3_region or "us-east-1"
    return f"https://{bucket}.s3.{region}.amazonaws.com"


def build_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return S3Storage.from_settings(settings)
    return LocalStorage(settings.media_dir, settings.media_url_prefix)
