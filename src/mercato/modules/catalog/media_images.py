"""Image bytes in, clean image bytes out (Pillow; no database, no storage): checking an upload and
deriving renditions. Blocking CPU work: callers run these in a thread.

The declared content type of an upload is never trusted: Pillow identifies the format from the
bytes. The pixel limit is checked on the header Pillow reads at `open`, before anything is
decoded, so a small file that would inflate to gigabytes (a decompression bomb) is refused cheaply;
Pillow's own bomb check (Image.MAX_IMAGE_PIXELS) stays on behind it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image, ImageOps, UnidentifiedImageError

from mercato.modules.catalog.media_errors import MediaTooManyPixels, MediaUnsupportedType

# format (as Pillow names it) -> (content type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
RENDITION_WIDTHS = (320, 640, 1280)
RENDITION_FORMATS: dict[str, tuple[str, str]] = {"webp": ("image/webp", "webp"), "jpeg": ("image/jpeg", "jpg")}
_JPEG_QUALITY = 85
# Pillow's decompression-bomb protection stays on (Image.MAX_IMAGE_PIXELS); its error, a warning
# promoted to an error by a filter, and a truncated or corrupt stream all mean "not a usable image".
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
                  Image.DecompressionBombWarning)
_WEBP_QUALITY = 80
_WEBP_MAX_SIDE = 16383


@dataclass(frozen=True)
class CleanImage:
    """An upload re-encoded without metadata, EXIF orientation applied."""

    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    format: str  # "webp" | "jpeg"
    content_type: str
    extension: str
    data: bytes


def clean_upload(source: IO[bytes], *, max_pixels: int) -> CleanImage:
    """Identify, verify and re-encode an uploaded image. Raises MediaUnsupportedType for anything
    that is not a JPEG/PNG/WebP/GIF image, MediaTooManyPixels beyond `max_pixels`."""
    image = _open(source, max_pixels)
    fmt = str(image.format)
    try:
        image.verify()  # structural check of the whole file; the image must be reopened after it
    except Exception as exc:  # Pillow's plugins raise a variety of types for a corrupt file
        raise MediaUnsupportedType("The file is not a readable image.") from exc
    image = _open(source, max_pixels)
    try:
        image.seek(0)  # an animated GIF/WebP keeps its first frame only
        image.load()
        upright = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS as exc:
        raise MediaUnsupportedType("The file is not a readable image.") from exc
    data = _encode_original(upright, fmt, icc=image.info.get("icc_profile"))
    content_type, extension = FORMATS[fmt]
    return CleanImage(data, fmt, content_type, extension, upright.width, upright.height,
                      hashlib.sha256(data).hexdigest())


def rendition_widths(original_width: int) -> list[int]:
    """The standard widths narrower than the original, then the original's own width."""
    return [w for w in RENDITION_WIDTHS if w < original_width] + [original_width]


def make_renditions(original: bytes, *, max_pixels: int) -> list[Rendition]:
    """WebP and JPEG at every width of `rendition_widths`. Raises MediaUnsupportedType when the
    stored original cannot be decoded."""
    image = _open(io.BytesIO(original), max_pixels)
    try:
        image.seek(0)
        image.load()
        base = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS as exc:
        raise MediaUnsupportedType("The stored original is not a readable image.") from exc
    icc = image.info.get("icc_profile")
    rgba = base.convert("RGBA") if _has_alpha(base) else base.convert("RGB")
    out: list[Rendition] = []
    for width in rendition_widths(base.width):
        height = max(1, round(base.height * width / base.width))
        sized = rgba if width == base.width else rgba.resize((width, height), Image.Resampling.LANCZOS)
        for name, (content_type, extension) in RENDITION_FORMATS.items():
            if name == "webp" and max(width, height) > _WEBP_MAX_SIDE:
                continue  # beyond what WebP can encode; the JPEG rendition still exists
            out.append(Rendition(width, height, name, content_type, extension, _encode(sized, name, icc)))
    return out


def _open(source: IO[bytes], max_pixels: int) -> Any:
    source.seek(0)
    try:
        image = Image.open(source, formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooManyPixels(max_pixels) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaUnsupportedType("The file is not a JPEG, PNG, WebP or GIF image.") from exc
    if image.format not in FORMATS:
        raise MediaUnsupportedType("The file is not a JPEG, PNG, WebP or GIF image.")
    width, height = image.size
    if width < 1 or height < 1:
        raise MediaUnsupportedType("The image has no pixels.")
    if width * height > max_pixels:
        raise MediaTooManyPixels(max_pixels)
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _encode_original(image: Image.Image, fmt: str, *, icc: bytes | None) -> bytes:
    """Re-encode without EXIF, XMP or text chunks: Pillow writes only what is passed to save()."""
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if icc and fmt in ("JPEG", "PNG", "WEBP"):
        options["icc_profile"] = icc
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        options.update(quality=95, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=95, method=4)
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    elif fmt == "PNG":
        options.update(optimize=False)
    elif fmt == "GIF" and image.mode not in ("P", "L"):
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _encode(image: Image.Image, name: str, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if name == "jpeg":
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY, optimize=True, progressive=True, **options)
    else:
        image.save(buffer, format="WEBP", quality=_WEBP_QUALITY, method=4, **options)
    return buffer.getvalue()
