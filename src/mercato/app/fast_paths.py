"""Answers served straight from the cache, before the framework's routing and middleware.

A storefront's most frequent request is a product page that has not changed since it was last
rendered. `ProductDetailFastPath` serves it from the detail cache the catalogue keeps (the same
bytes, ETag, Cache-Control and gzip the full route would send) inside RequestContextMiddleware, so
it is still logged, counted and carries the request id and security headers. Anything it does not
recognise — another query parameter, an odd path, a cache miss — goes through the normal route,
which renders, caches and answers (so behaviour is defined by the route, this only short-cuts it).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from typing import Protocol

from cachetools import LRUCache
from starlette.types import Scope, Send

from mercato.kit.cache import Cache
from mercato.kit.etag import etag_for, matches_if_none_match
from mercato.modules import catalog

_PREFIX = "/store/products/"
_REF = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_CHANNEL_QUERY = re.compile(rb"channel=([A-Za-z0-9_-]{1,50})")
_GZIP_MIN = 1024  # as the app's GZipMiddleware
CACHE_CONTROL = b"public, max-age=60"


class FastPath(Protocol):
    route: str

    async def __call__(self, scope: Scope, send: Send) -> int | None:
        """Answer the request and return the status, or return None without sending anything."""
        ...


class _Encoded:
    __slots__ = ("etag", "gzipped")

    def __init__(self, etag: bytes) -> None:
        self.etag = etag
        self.gzipped: bytes | None = None


class ProductDetailFastPath:
    route = "/store/products/{id_or_slug}"

    def __init__(self, cache: Callable[[], Cache], default_channel: str) -> None:
        self._cache = cache
        self._default_channel = default_channel
        # ETag and gzip of recent bodies, so a hit costs neither a hash nor a compression.
        self._encoded: LRUCache[bytes, _Encoded] = LRUCache(maxsize=4096)

    async def __call__(self, scope: Scope, send: Send) -> int | None:
        method = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD") or not path.startswith(_PREFIX):
            return None
        ref = path[len(_PREFIX):]
        if not _REF.fullmatch(ref):
            return None
        channel = self._channel(scope["query_string"])
        if channel is None:
            return None
        body = (await catalog.lookup_detail(self._cache(), ref, channel)).body
        if body is None:
            return None
        return await self._send(scope, send, body)

    def _channel(self, query: bytes) -> str | None:
        if not query:
            return self._default_channel
        match = _CHANNEL_QUERY.fullmatch(query)
        return match.group(1).decode() if match else None

    async def _send(self, scope: Scope, send: Send, body: bytes) -> int:
        encoded = self._encoded.get(body)
        if encoded is None:
            encoded = self._encoded[body] = _Encoded(f"W/{etag_for(body.decode())}".encode())
        if_none_match = accept_encoding = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"accept-encoding":
                accept_encoding = value
        headers = [(b"etag", encoded.etag), (b"cache-control", CACHE_CONTROL)]
        if if_none_match is not None and matches_if_none_match(if_none_match, encoded.etag.decode()[2:]):
            await _respond(send, 304, headers, b"")
            return 304
        headers.append((b"content-type", b"application/json"))
        if len(body) >= _GZIP_MIN:
            headers.append((b"vary", b"Accept-Encoding"))
            if accept_encoding is not None and b"gzip" in accept_encoding:
                if encoded.gzipped is None:
                    encoded.gzipped = gzip.compress(body, compresslevel=9)
                body = encoded.gzipped
                headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await _respond(send, 200, headers, b"" if scope["method"] == "HEAD" else body)
        return 200


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


