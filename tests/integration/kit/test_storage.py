"""The storage backends against the same behavioural tests: the local directory, and S3Storage
talking through boto3 to a real S3-compatible server (moto's, run as its own process)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from pydantic import SecretStr

from mercato.kit.settings import ConfigurationError, Settings, load_settings
from mercato.kit.storage import LocalStorage, S3Storage, Storage, StorageKeyError, build_storage

BUCKET = "mercato-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    args = [str(moto)] if moto.exists() else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen([*args, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_settings(endpoint: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "storage_backend": "s3", "s3_bucket": BUCKET, "s3_endpoint_url": endpoint, "s3_region": "us-east-1",
        "s3_access_key_id": "testing", "s3_secret_access_key": SecretStr("testing-secret"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def s3_bucket(s3_endpoint: str) -> str:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing-secret")
    client.create_bucket(Bucket=BUCKET)
    return s3_endpoint


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media", "/media")
    endpoint: str = request.getfixturevalue("s3_bucket")
    built = build_storage(s3_settings(endpoint, s3_public_url="https://cdn.example.com/"))
    assert isinstance(built, S3Storage)
    # Small parts, so a few-MB stream really goes up as a multipart upload of several parts.
    built.part_size = 5 * 1024 * 1024
    return built


def unique_key(name: str = "file.bin") -> str:
    return f"tests/{uuid.uuid4().hex}/{name}"


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def collect(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key)])


async def test_put_get_exists_stat_delete(storage: Storage) -> None:
    key = unique_key("a.txt")
    assert not await storage.exists(key)
    assert await storage.stat(key) is None
    await storage.put(key, b"hello", "text/plain")
    assert await storage.exists(key)
    assert await storage.get(key) == b"hello"
    assert await collect(storage, key) == b"hello"
    stat = await storage.stat(key)
    assert stat is not None
    assert stat.size == 5
    await storage.put(key, b"changed!", "text/plain")
    changed = await storage.stat(key)
    assert changed is not None
    assert (changed.size, changed.version != stat.version) == (8, True)
    await storage.delete(key)
    assert not await storage.exists(key)
    await storage.delete(key)  # absent: not an error


async def test_missing_key_reads_raise_file_not_found(storage: Storage) -> None:
    key = unique_key()
    with pytest.raises(FileNotFoundError):
        await storage.get(key)
    with pytest.raises(FileNotFoundError):
        await collect(storage, key)


async def test_streamed_write_of_several_megabytes(storage: Storage) -> None:
    data = os.urandom(12 * 1024 * 1024 + 123)  # more than two 5 MiB parts plus a short last one
    key = unique_key("big.bin")
    written = await storage.write(key, chunks_of(data, 256 * 1024), "application/octet-stream")
    assert written == len(data)
    read_back = await collect(storage, key)
    assert hashlib.sha256(read_back).digest() == hashlib.sha256(data).digest()
    stat = await storage.stat(key)
    assert stat is not None
    assert stat.size == len(data)


async def test_small_and_empty_streamed_writes(storage: Storage) -> None:
    key = unique_key()
    assert await storage.write(key, chunks_of(b"abc" * 10, 7), "text/plain") == 30
    assert await storage.get(key) == b"abc" * 10
    empty = unique_key()
    assert await storage.write(empty, chunks_of(b"", 7), "text/plain") == 0
    assert await storage.get(empty) == b""


async def test_a_failed_stream_leaves_no_object(storage: Storage) -> None:
    key = unique_key()

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(6 * 1024 * 1024)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await storage.write(key, broken(), "application/octet-stream")
    assert not await storage.exists(key)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", "a//b", "", ".hidden", "a/./b",
                                 "a\\b", "a/b/", "x" * 301])
async def test_keys_that_could_escape_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StorageKeyError):
        await storage.put(key, b"x", "text/plain")
    with pytest.raises(StorageKeyError):
        await storage.get(key)
    with pytest.raises(StorageKeyError):
        storage.url(key)


def test_urls(storage: Storage) -> None:
    url = storage.url("media/p/m/original.jpg")
    if isinstance(storage, S3Storage):
        assert url == "https://cdn.example.com/media/p/m/original.jpg"
    else:
        assert url == "/media/media/p/m/original.jpg"


def test_s3_url_defaults_to_the_bucket(s3_endpoint: str) -> None:
    built = build_storage(s3_settings(s3_endpoint))
    assert built.url("media/x.jpg") == f"{s3_endpoint}/{BUCKET}/media/x.jpg"
    aws = build_storage(s3_settings(None, s3_region="eu-west-1"))  # type: ignore[arg-type]
    assert aws.url("media/x.jpg") == f"https://{BUCKET}.s3.eu-west-1.amazonaws.com/media/x.jpg"


def test_s3_without_a_bucket_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_STORAGE_BACKEND", "s3")
    monkeypatch.delenv("MERCATO_S3_BUCKET", raising=False)
    with pytest.raises(ConfigurationError, match="MERCATO_S3_BUCKET"):
        load_settings()


def test_the_secret_key_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("MERCATO_S3_BUCKET", BUCKET)
    monkeypatch.setenv("MERCATO_S3_SECRET_ACCESS_KEY", "very-secret-value")
    settings = load_settings()
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in str(settings.model_dump())
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == "very-secret-value"
