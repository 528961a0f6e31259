"""Pure image handling: format sniffing, metadata stripping, renditions."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageCms

from mercato.modules.catalog.media_errors import MediaTooManyPixels, MediaUnsupportedType
from mercato.modules.catalog.media_images import RENDITION_WIDTHS, clean_upload, make_renditions, rendition_widths


def encoded(image: Image.Image, fmt: str, **options: object) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    out.seek(0)
    return out


@given(st.integers(min_value=1, max_value=50_000))
def test_rendition_widths(width: int) -> None:
    widths = rendition_widths(width)
    assert widths == sorted(set(widths))
    assert widths[-1] == width
    assert all(w <= width for w in widths)
    assert set(widths) - {width} == {w for w in RENDITION_WIDTHS if w < width}


def test_cmyk_jpeg_stays_a_jpeg() -> None:
    clean = clean_upload(encoded(Image.new("CMYK", (40, 30)), "JPEG"), max_pixels=10_000)
    assert (clean.format, clean.content_type, clean.extension, clean.width, clean.height) == (
        "JPEG", "image/jpeg", "jpg", 40, 30)


def test_icc_profile_is_kept() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    clean = clean_upload(encoded(Image.new("RGB", (20, 20)), "PNG", icc_profile=icc), max_pixels=10_000)
    assert Image.open(io.BytesIO(clean.data)).info.get("icc_profile") == icc


def test_animated_gif_keeps_its_first_frame() -> None:
    frames = [Image.new("P", (30, 20), colour) for colour in (1, 2, 3)]
    source = io.BytesIO()
    frames[0].save(source, format="GIF", save_all=True, append_images=frames[1:])
    source.seek(0)
    clean = clean_upload(source, max_pixels=10_000)
    stored = Image.open(io.BytesIO(clean.data))
    assert (stored.format, getattr(stored, "n_frames", 1), stored.size) == ("GIF", 1, (30, 20))


def test_png_text_chunks_are_dropped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Somebody Private")
    clean = clean_upload(encoded(Image.new("RGBA", (10, 10)), "PNG", pnginfo=info), max_pixels=10_000)
    assert b"Somebody Private" not in clean.data


def test_pixel_limit_and_unknown_formats() -> None:
    with pytest.raises(MediaTooManyPixels):
        clean_upload(encoded(Image.new("L", (101, 100)), "PNG"), max_pixels=10_000)
    with pytest.raises(MediaUnsupportedType):
        clean_upload(encoded(Image.new("RGB", (10, 10)), "BMP"), max_pixels=10_000)
    with pytest.raises(MediaUnsupportedType):
        clean_upload(encoded(Image.new("RGB", (10, 10)), "TIFF"), max_pixels=10_000)


def test_transparent_renditions() -> None:
    image = Image.new("RGBA", (700, 350), (255, 0, 0, 0))
    renditions = make_renditions(encoded(image, "PNG").getvalue(), max_pixels=1_000_000)
    assert [(r.width, r.format) for r in renditions] == [
        (320, "webp"), (320, "jpeg"), (640, "webp"), (640, "jpeg"), (700, "webp"), (700, "jpeg")]
    webp = Image.open(io.BytesIO(renditions[0].data))
    assert webp.mode == "RGBA"
    jpeg = Image.open(io.BytesIO(renditions[1].data)).convert("RGB")
    assert jpeg.getpixel((5, 5)) == (255, 255, 255)  # transparency flattened onto white
    with pytest.raises(MediaUnsupportedType):
        make_renditions(b"not an image", max_pixels=1_000_000)
