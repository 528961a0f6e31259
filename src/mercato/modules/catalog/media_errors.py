"""Product media errors with stable codes."""

from __future__ import annotations

from mercato.kit.errors import FieldError, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType


class MediaNotFound(NotFound):
    code = "media.not_found"
    title = "Media not found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "No such product media.")


class MediaTooLarge(PayloadTooLarge):
    code = "media.too_large"
    title = "Image too large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The image exceeds {max_bytes} bytes.")


class MediaTooManyPixels(InvalidInput):
    code = "media.too_many_pixels"
    title = "Image has too many pixels"

    def __init__(self, max_pixels: int) -> None:
        super().__init__(f"The image has more than {max_pixels} pixels.",
                         errors=[FieldError("file", "too_many_pixels", f"At most {max_pixels} pixels.")])


class MediaUnsupportedType(UnsupportedMediaType):
    code = "media.unsupported_type"
    title = "Unsupported image type"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "Upload a JPEG, PNG, WebP or GIF image.")


class MalformedUpload(InvalidInput):
    """The multipart body itself is wrong: no file part, a field too long, an unknown field."""

    code = "media.invalid_upload"
    title = "Invalid upload"


class MediaOrderMismatch(InvalidInput):
    code = "media.order_mismatch"
    title = "Order does not match the product's media"

    def __init__(self) -> None:
        super().__init__("List every media id of the product exactly once.",
                         errors=[FieldError("ids", "mismatch", "Must be exactly the product's media ids.")])


class MediaFileNotFound(NotFound):
    code = "media.file_not_found"
    title = "File not found"

    def __init__(self) -> None:
        super().__init__("No such file.")
