"""The storefront's hottest requests answered before the framework's routing and middleware.

A storefront's most frequent requests are product pages, product lists and add-to-cart.
`ProductDetailFastPath` serves an unchanged page from the detail cache the catalogue keeps;
`ProductListFastPath` reads a list page through the catalogue's own service, and `CartLineFastPath`
adds a line to a guest's cart through the cart's own service, each skipping only the framework
(routing, dependency injection, per-parameter validation, the per-route session). Both run inside
RequestContextMiddleware, so requests are still logged, counted and carry the request id and
security headers, and both send the same bytes, ETag, Cache-Control and gzip the route would.

Anything a fast path does not recognise as plainly valid (an unknown or malformed parameter, an
odd path, a cache miss, an error of any kind) goes through the normal route, which answers it:
behaviour is defined by the routes; these only short-cut the common case. Tests compare the two
answers for the same requests.
"""

from __future__ import annotations

import gzip
import re
import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qsl

import orjson
from cachetools import LRUCache
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from mercato.kit.cache import Cache
from mercato.kit.db import Database
from mercato.kit.etag import etag_for, matches_if_none_match
from mercato.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from mercato.modules import cart, catalog

_PREFIX = "/store/products/"
_REF = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_CHANNEL = re.compile(r"[A-Za-z0-9_-]{1,50}")
_CHANNEL_QUERY = re.compile(rb"channel=([A-Za-z0-9_-]{1,50})")
_CURSOR = re.compile(r"[A-Za-z0-9._=-]{1,512}")
_NUMBER = re.compile(r"[0-9]{1,18}")  # below 2**63: the route's bound
_ATTRIBUTE_VALUE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_GZIP_MIN = 1024  # as the app's GZipMiddleware
CACHE_CONTROL = b"public, max-age=60"


class BufferedReceive:
    """The request's `receive`, able to give the whole body to a fast path (`body()`) and then
    the same body again to the app when the fast path leaves the request to it."""

    __slots__ = ("_body", "_receive", "_replayed")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._body: bytes | None = None
        self._replayed = False

    async def body(self) -> bytes:
        if self._body is None:
            chunks: list[bytes] = []
            while True:
                message = await self._receive()
                if message["type"] != "http.request":  # the client went away: nothing to answer
                    raise ClientDisconnect()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self._body = b"".join(chunks)
        return self._body

    async def __call__(self) -> Message:
        if self._body is not None and not self._replayed:
            self._replayed = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        return await self._receive()


class FastPath(Protocol):
    route: str

    async def __call__(self, scope: Scope, receive: BufferedReceive, send: Send) -> int | None:
        """Answer the request and return the status, or return None without sending anything."""
        ...


class _Encoded:
    __slots__ = ("etag", "gzipped")

    def __init__(self, etag: bytes) -> None:
        self.etag = etag
        self.gzipped: bytes | None = None


class _JsonSender:
    """Sends a JSON body as the catalogue routes do: weak ETag of the bytes, Cache-Control, 304 on
    If-None-Match, gzip when accepted (from 1 KiB, as the app's GZipMiddleware). ETag and gzip of
    recent bodies are remembered, so a repeated body costs neither a hash nor a compression."""

    def __init__(self) -> None:
        self._encoded: LRUCache[bytes, _Encoded] = LRUCache(maxsize=4096)

    async def __call__(self, scope: Scope, send: Send, body: bytes) -> int:
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


class ProductDetailFastPath:
    route = "/store/products/{id_or_slug}"

    def __init__(self, db: Callable[[], Database], cache: Callable[[], Cache], default_channel: str) -> None:
        self._db = db
        self._cache = cache
        self._default_channel = default_channel
        self._send = _JsonSender()

    async def __call__(self, scope: Scope, receive: BufferedReceive, send: Send) -> int | None:
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
        cache = self._cache()
        found = await catalog.lookup_detail(cache, ref, channel)
        body = found.body
        if body is None:  # render it as the route would (one statement), and cache it
            try:
                body = await catalog.product_detail_json(self._db().own_connection, cache, ref, channel, found=found)
            except Exception:  # not found, unknown channel, database down...: the route answers it
                return None
        return await self._send(scope, send, body)

    def _channel(self, query: bytes) -> str | None:
        if not query:
            return self._default_channel
        match = _CHANNEL_QUERY.fullmatch(query)
        return match.group(1).decode() if match else None

class ProductListFastPath:
    route = "/store/products"

    def __init__(self, db: Callable[[], Database], cache: Callable[[], Cache], default_channel: str) -> None:
        self._db = db
        self._cache = cache
        self._default_channel = default_channel
        self._send = _JsonSender()

    async def __call__(self, scope: Scope, receive: BufferedReceive, send: Send) -> int | None:
        if scope["method"] not in ("GET", "HEAD") or scope["path"] != "/store/products":
            return None
        query = self._query(scope["query_string"])
        if query is None:
            return None
        try:
            async with self._db().read_connection() as connection:
                body = await catalog.list_products_json(connection, self._cache(), query)
        except Exception:  # whatever went wrong, the route answers it (and logs it)
            return None
        return await self._send(scope, send, body)

    def _query(self, raw: bytes) -> catalog.ProductQuery | None:
        """The query when every parameter is one the route takes and plainly valid, else None."""
        try:
            pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            return None
        single: dict[str, str] = {}
        attributes: dict[str, list[str]] = {}
        for key, value in pairs:
            if key.startswith("attr."):
                if not _ATTRIBUTE_VALUE.fullmatch(value) or not _REF.fullmatch(key[5:]):
                    return None
                attributes.setdefault(key[5:], []).append(value)
            elif key in single or not _valid(key, value):
                return None
            else:
                single[key] = value
        return catalog.ProductQuery(
            channel=single.get("channel", self._default_channel),
            limit=int(single.get("limit", DEFAULT_LIMIT)),
            cursor=single.get("cursor"),
            sort=single.get("sort", "newest"),  # type: ignore[arg-type] # checked by _valid
            category=single.get("category"), brand=single.get("brand"), collection=single.get("collection"),
            min_price=int(single["min_price"]) if "min_price" in single else None,
            max_price=int(single["max_price"]) if "max_price" in single else None,
            in_stock=single["in_stock"] == "true" if "in_stock" in single else None,
            attributes=tuple((code, tuple(dict.fromkeys(values))) for code, values in attributes.items()),
        )


class CartLineFastPath:
    """`POST /store/carts/{id}/lines` for a guest: plain JSON `{"variant_id", "quantity"}`, no
    bearer token, no Idempotency-Key. The change is `cart.GuestLineAdds.add` (the route's own service
    call, in a transaction of its own); the answer is the route's: the cart, 201 or 200, no-store."""

    route = "/store/carts/{cart_id}/lines"

    def __init__(self, db: Callable[[], Database]) -> None:
        self._db = db
        self._adds: cart.GuestLineAdds | None = None

    def _adds_for(self, database: Database) -> cart.GuestLineAdds:
        if self._adds is None or self._adds.database is not database:
            self._adds = cart.GuestLineAdds(database)
        return self._adds

    async def __call__(self, scope: Scope, receive: BufferedReceive, send: Send) -> int | None:
        path: str = scope["path"]
        if scope["method"] != "POST" or not path.startswith(_CARTS) or not path.endswith(_LINES):
            return None
        cart_id = path[len(_CARTS):-len(_LINES)]
        if len(cart_id) != 36 or not self._plain(scope["headers"]):
            return None
        line = _line(await receive.body())
        if line is None:
            return None
        try:
            uuid.UUID(cart_id)
            body, created = await self._adds_for(self._db()).add(cart_id, variant_id=line[0], quantity=line[1])
        except Exception:  # a refusal, a cart that needs the route, the database...: the route answers
            return None
        status = 201 if created else 200
        await _send_private_json(scope, send, status, orjson.dumps(body))
        return status

    @staticmethod
    def _plain(headers: list[tuple[bytes, bytes]]) -> bool:
        """JSON, from a guest, without an Idempotency-Key (those the route handles)."""
        json = False
        for name, value in headers:
            if name == b"content-type":
                json = value.lower() == b"application/json"
            elif name in (b"authorization", b"idempotency-key"):
                return False
        return json


_CARTS = "/store/carts/"
_LINES = "/lines"


def _line(raw: bytes) -> tuple[str, int] | None:
    """(variant_id, quantity) from a body of exactly those two, plainly typed; else None."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.keys() != {"variant_id", "quantity"}:
        return None
    variant_id, quantity = data["variant_id"], data["quantity"]
    if not isinstance(variant_id, str) or not 0 < len(variant_id) <= 100 or type(quantity) is not int:
        return None
    return variant_id, quantity


async def _send_private_json(scope: Scope, send: Send, status: int, body: bytes) -> None:
    """As a route's `Response(..., headers={"Cache-Control": "no-store"})` leaves the app's GZip
    middleware: compressed from 1 KiB when the client accepts gzip."""
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if len(body) >= _GZIP_MIN and any(name == b"accept-encoding" and b"gzip" in value
                                      for name, value in scope["headers"]):
        body = gzip.compress(body, compresslevel=9)
        headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
    headers.append((b"content-length", str(len(body)).encode()))
    await _respond(send, status, headers, body)


def _valid(key: str, value: str) -> bool:
    if key == "limit":
        return _NUMBER.fullmatch(value) is not None and 1 <= int(value) <= MAX_LIMIT
    if key == "cursor":
        return _CURSOR.fullmatch(value) is not None
    if key == "sort":
        return value in catalog.SORTS
    if key in ("category", "brand", "collection"):
        return _REF.fullmatch(value) is not None
    if key in ("min_price", "max_price"):
        return _NUMBER.fullmatch(value) is not None
    if key == "in_stock":
        return value in ("true", "false")
    if key == "channel":
        return _CHANNEL.fullmatch(value) is not None
    return False


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


