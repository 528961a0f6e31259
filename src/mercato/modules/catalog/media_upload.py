"""Reading a multipart/form-data image upload as it streams in.

The request body is parsed part by part (python-multipart's streaming parser), the file part going
into a spooled temporary file while its bytes are counted: an upload over the limit is refused as
soon as the limit is passed, not after the whole body has been received.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO, Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from mercato.kit.errors import FieldError, UnsupportedMediaType
from mercato.modules.catalog.media_errors import MalformedUpload, MediaTooLarge

FILE_FIELD = "file"
TEXT_FIELDS = frozenset({"alt", "position"})
_MAX_TEXT_BYTES = 2048
# Uploads stay in memory up to this size and spill to a temporary file beyond it.
_SPOOL_BYTES = 1 << 20


@dataclass
class Upload:
    file: IO[bytes]  # the file part, rewound
    size: int
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.file.close()


def _invalid(name: str, code: str, message: str) -> MalformedUpload:
    return MalformedUpload("The upload is not valid.", errors=[FieldError(name, code, message)])


class _Receiver:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - handed on
        self.size = 0
        self.filename: str | None = None
        self.seen_file = False
        self.fields: dict[str, bytearray] = {}
        self.headers: dict[str, str] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._part: str | None = None  # FILE_FIELD, a text field name

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
        }

    def on_part_begin(self) -> None:
        self.headers = {}
        self._part = None

    def on_header_end(self) -> None:
        self.headers[self._header_name.decode("latin-1").lower()] = self._header_value.decode("latin-1")
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD:
            if self.seen_file:
                raise _invalid(FILE_FIELD, "duplicate", "Send one file per upload.")
            self.seen_file = True
            raw_filename = params.get(b"filename")
            self.filename = raw_filename.decode("utf-8", "replace")[:255] if raw_filename is not None else None
        elif name in TEXT_FIELDS:
            if name in self.fields:
                raise _invalid(name, "duplicate", f"Send {name!r} once.")
            self.fields[name] = bytearray()
        else:
            raise _invalid(name or "body", "unknown_field", "Send only the fields file, alt and position.")
        self._part = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == FILE_FIELD:
            self.size += end - start
            if self.size > self.max_bytes:
                raise MediaTooLarge(self.max_bytes)
            # A 64 KiB chunk into the spool: memory, or the page cache once it spills; not worth a thread.
            self.spool.write(data[start:end])
        elif self._part is not None:
            buffer = self.fields[self._part]
            buffer.extend(data[start:end])
            if len(buffer) > _MAX_TEXT_BYTES:
                raise _invalid(self._part, "too_long", f"At most {_MAX_TEXT_BYTES} bytes.")


async def receive_upload(chunks: AsyncIterator[bytes], content_type: str | None, *, max_bytes: int) -> Upload:
    """Parse the body; the caller closes the returned Upload. Raises UnsupportedMediaType (not
    multipart/form-data), MediaTooLarge (file over `max_bytes`), MalformedUpload (anything else)."""
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType("Send the upload as multipart/form-data.")
    boundary = params.get(b"boundary")
    if not boundary:
        raise _invalid("body", "no_boundary", "The Content-Type has no boundary.")
    receiver = _Receiver(max_bytes)
    try:
        parser = MultipartParser(boundary, receiver.callbacks())
        async for chunk in chunks:
            if chunk:
                parser.write(chunk)
        parser.finalize()
        if not receiver.seen_file:
            raise _invalid(FILE_FIELD, "missing", "Attach the image as the part named 'file'.")
    except FormParserError:
        receiver.spool.close()
        raise _invalid("body", "malformed", "The multipart body could not be parsed.") from None
    except BaseException:
        receiver.spool.close()
        raise
    try:
        fields = {name: value.decode("utf-8") for name, value in receiver.fields.items()}
    except UnicodeDecodeError:
        receiver.spool.close()
        raise _invalid("alt", "encoding", "Text fields must be UTF-8.") from None
    receiver.spool.seek(0)
    return Upload(receiver.spool, receiver.size, receiver.filename, fields)
