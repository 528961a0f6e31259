"""GET /media/{key}: stored product images, served from the storage backend.

Keys are never reused (each holds a media id), so a file can be cached for a year without
revalidation. Only keys under `media/` are served: import and export files share the storage but
are not public. With S3 the public URLs point at the bucket (or its CDN) instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.responses import StreamingResponse

from mercato.kit.etag import etag_for, matches_if_none_match
from mercato.kit.storage import Storage, StorageKeyError, check_key
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute
from mercato.modules.catalog.media_errors import MediaFileNotFound

router = APIRouter(tags=["store: catalogue"], route_class=MercatoRoute)

CACHE_CONTROL = "public, max-age=31536000, immutable"
PUBLIC_PREFIX = "media/"
CONTENT_TYPES = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
}


def _public_key(key: str) -> str:
    try:
        check_key(key)
    except StorageKeyError:
        raise MediaFileNotFound() from None
    if not key.startswith(PUBLIC_PREFIX):
        raise MediaFileNotFound()
    return key


@router.get(
    "/media/{key:path}",
    response_class=Response,
    responses={
        200: {"description": "The file", "content": {kind: {} for kind in sorted(set(CONTENT_TYPES.values()))}},
        304: {"description": "Not modified (If-None-Match matched)"},
        **problem_responses(404),
    },
)
async def media_file(key: str, request: Request) -> Response:
    """A stored image, with long-lived cache headers."""
    key = _public_key(key)
    storage: Storage = request.app.state.storage
    stat = await storage.stat(key)
    if stat is None:
        raise MediaFileNotFound()
    etag = etag_for(key, stat.version)
    headers: dict[str, Any] = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches_if_none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    extension = key.rsplit(".", 1)[-1].lower()
    headers["Content-Length"] = str(stat.size)
    return StreamingResponse(storage.read(key), media_type=CONTENT_TYPES.get(extension, "application/octet-stream"),
                             headers=headers)


routers = [router]
