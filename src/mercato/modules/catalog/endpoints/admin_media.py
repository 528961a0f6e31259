"""/admin/products/{id}/media and /admin/media/{id}: product image upload, alt text, order, deletion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.cache import Cache
from mercato.kit.errors import FieldError, InvalidInput
from mercato.kit.etag import check_if_match
from mercato.kit.settings import Settings
from mercato.kit.storage import Storage
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.catalog import media
from mercato.modules.catalog.media_errors import MediaTooLarge
from mercato.modules.catalog.media_schemas import MediaList, MediaOrderIn, MediaOut, MediaUpdateIn
from mercato.modules.catalog.media_upload import receive_upload

TAGS: list[str | Any] = ["admin: catalogue"]
product_media = APIRouter(prefix="/admin/products/{product_id}/media", tags=TAGS, route_class=MercatoRoute)
media_items = APIRouter(prefix="/admin/media", tags=TAGS, route_class=MercatoRoute)

# Room for the multipart framing and the text fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
MAX_ALT = 300

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "JPEG, PNG, WebP or GIF (first frame); the type is read from the "
                                                "bytes, the declared one is ignored"},
                        "alt": {"type": "string", "maxLength": MAX_ALT},
                        "position": {"type": "integer", "minimum": 0,
                                     "description": "Default: after the product's other media"},
                    },
                },
            },
        },
    },
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def _cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw and raw.isdigit() else None


def _alt(raw: str | None) -> str:
    value = (raw or "").strip()
    if len(value) > MAX_ALT or "\x00" in value:
        raise InvalidInput("The request has invalid fields.",
                           errors=[FieldError("alt", "invalid", f"At most {MAX_ALT} characters, no NUL.")])
    return value


def _position(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not value.isdigit() or int(value) > 1_000_000:
        raise InvalidInput("The request has invalid fields.",
                           errors=[FieldError("position", "invalid", "A whole number from 0 to 1000000.")])
    return int(value)


def _with_etag(response: Response, item: Any) -> MediaOut:
    response.headers["ETag"] = media.media_etag(item)
    return media.media_out(item)


@product_media.post("", status_code=201, response_model=MediaOut, openapi_extra=_UPLOAD_BODY,
                    responses=problem_responses(401, 403, 404, 413, 415, 422))
async def upload_media(
    product_id: str, request: Request, response: Response,
    _: Principal = Depends(require_permission("catalog:write")),
    session: AsyncSession = Depends(get_session),
) -> MediaOut:
    """Upload an image (multipart: `file`, optional `alt` and `position`). It is stored without
    EXIF or other metadata, upright; renditions follow from a worker job (status `processing` →
    `ready`, or `failed`). 413 `media.too_large` past MERCATO_MEDIA_MAX_BYTES, 422
    `media.too_many_pixels` past MERCATO_MEDIA_MAX_PIXELS, 415 `media.unsupported_type` for
    anything but JPEG, PNG, WebP and GIF."""
    settings = _settings(request)
    declared = _declared_length(request)
    if declared is not None and declared > settings.media_max_bytes + MULTIPART_OVERHEAD:
        raise MediaTooLarge(settings.media_max_bytes)
    pid = await media.product_id_of(session, product_id)
    upload = await receive_upload(request.stream(), request.headers.get("content-type"),
                                  max_bytes=settings.media_max_bytes)
    try:
        item = await media.upload(
            session, _cache(request), _storage(request), pid, upload,
            alt=_alt(upload.fields.get("alt")), position=_position(upload.fields.get("position")),
            max_pixels=settings.media_max_pixels,
        )
    finally:
        upload.close()
    response.headers["Location"] = f"/admin/media/{item.id}"
    return _with_etag(response, item)


@product_media.get("", response_model=MediaList, responses=problem_responses(401, 403, 404, 422))
async def list_media(
    product_id: str,
    page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> MediaList:
    """The product's media in display order."""
    pid = await media.product_id_of(session, product_id)
    result = await media.list_for_product(session, pid, limit=page.limit, cursor=page.cursor)
    return MediaList(items=[media.media_out(item) for item in result.items], next_cursor=result.next_cursor)


@product_media.put("/order", response_model=MediaList, responses=problem_responses(401, 403, 404, 415, 422))
async def reorder_media(
    product_id: str, body: MediaOrderIn, request: Request,
    _: Principal = Depends(require_permission("catalog:write")),
    session: AsyncSession = Depends(get_session),
) -> MediaList:
    """Put the product's media in this order (positions 0..n-1). `ids` must list every media id of
    the product exactly once (422 `media.order_mismatch`)."""
    pid = await media.product_id_of(session, product_id)
    items = await media.reorder(session, _cache(request), pid, body.ids)
    return MediaList(items=[media.media_out(item) for item in items], next_cursor=None)


@media_items.get("/{media_id}", response_model=MediaOut, responses=problem_responses(401, 403, 404))
async def get_media(
    media_id: str, response: Response,
    _: Principal = Depends(require_permission("catalog:read")),
    session: AsyncSession = Depends(get_session),
) -> MediaOut:
    return _with_etag(response, await media.get(session, media_id))


@media_items.patch("/{media_id}", response_model=MediaOut,
                   responses=problem_responses(401, 403, 404, 412, 415, 422))
async def update_media(
    media_id: str, body: MediaUpdateIn, request: Request, response: Response,
    if_match: str | None = Header(default=None, description="ETag of the media you edited (412 if stale)"),
    _: Principal = Depends(require_permission("catalog:write")),
    session: AsyncSession = Depends(get_session),
) -> MediaOut:
    """Change the alt text or the position."""
    item = await media.get(session, media_id, lock=True)
    check_if_match(if_match, media.media_etag(item))
    alt = _alt(body.alt) if body.alt is not None else None
    item = await media.update_media(session, _cache(request), item, alt=alt, position=body.position)
    return _with_etag(response, item)


@media_items.delete("/{media_id}", status_code=204, response_class=Response,
                    responses=problem_responses(401, 403, 404, 412))
async def delete_media(
    media_id: str, request: Request,
    if_match: str | None = Header(default=None, description="ETag of the media (412 if stale)"),
    _: Principal = Depends(require_permission("catalog:write")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Delete the media item and, once that is committed, its files."""
    item = await media.get(session, media_id, lock=True)
    check_if_match(if_match, media.media_etag(item))
    await media.delete_media(session, _cache(request), _storage(request), item)
    return Response(status_code=204)


routers = [product_media, media_items]
