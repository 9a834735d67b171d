"""The local store's upload endpoint: what S3's presigned POST target is, for UPLOAD_DIR.

The multipart body is parsed as it streams in: the signed policy is checked before the
file's first byte, and the file goes straight to its place with its size capped, never
spooled whole in memory or in the system's temporary folder. Like S3 it answers 204.
Everything before the file is capped too, and a declared length over what any upload
may be is refused before the body is read, so a hostile post costs a bounded read.
"""

from __future__ import annotations

import contextlib
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from settings import get_settings
from storage.objects import (
    LOCAL_UPLOAD_PATH,
    TOO_LARGE,
    LocalObjectStore,
    LocalWrite,
    UploadRejected,
    object_store,
)
from web.responses import envelope

#: Form fields may come before the file, each this many bytes at most: S3's own few.
MAX_FIELDS = 16
MAX_FIELD_BYTES = 4096
#: Bytes read before the file's data (preamble, boundaries, part headers, field values):
#: room for MAX_FIELDS fields of MAX_FIELD_BYTES and their headers, and no more.
BEFORE_FILE_MAX_BYTES = 64 * 1024
#: One part header line, in bytes: a content disposition naming a long file name fits.
HEADER_MAX_BYTES = 4096
#: Headers in one part: a browser sends a disposition and a content type.
HEADERS_PER_PART = 4

NOT_HERE = "Uploads go to the storage service named in the upload URL, not here."
NOT_MULTIPART = "Send the upload as multipart/form-data: the fields, then the file as `file`."
NO_FILE = "The upload has no `file` part. Send the fields, then the file as `file`."
MALFORMED = "The upload is not well-formed multipart/form-data. Start the upload again."
FIELDS_TOO_LARGE = (
    "The fields before the file are too large. Send only the fields the upload URL gave, "
    "then the file."
)


class _Receiver:
    """python-multipart callbacks: collect the fields, then write the file as it comes."""

    def __init__(self, store: LocalObjectStore, declared_bytes: int | None) -> None:
        self.store = store
        self.declared_bytes = declared_bytes
        self.fields: dict[str, str] = {}
        self.stack = contextlib.ExitStack()
        self.writer: LocalWrite | None = None
        self.done = False
        self._name = ""
        self._value = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._in_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        if self.done or self.writer is not None:
            raise UploadRejected(400, "Send the file last, and only one file.")
        self._disposition, self._value = b"", bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._in_file = self._name == "file"
        if self._in_file:
            policy = self.store.verify(self.fields)
            if _over(self.declared_bytes, policy.max_bytes):
                raise UploadRejected(413, TOO_LARGE)
            self.writer = self.stack.enter_context(self.store.receive(policy))
        elif len(self.fields) >= MAX_FIELDS:
            raise UploadRejected(413, FIELDS_TOO_LARGE)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            assert self.writer is not None
            self.writer.write(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise UploadRejected(413, FIELDS_TOO_LARGE)

    def _part_end(self) -> None:
        if self._in_file:
            self.done = True
        else:
            self.fields[self._name] = self._value.decode("utf-8", "replace")


async def receive_upload(request: Request) -> Response:
    store = object_store()
    if not isinstance(store, LocalObjectStore):
        return envelope(404, NOT_HERE)
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        return envelope(400, NOT_MULTIPART)
    declared = request.headers.get("content-length", "")
    declared_bytes = int(declared) if declared.isdigit() else None
    if _over(declared_bytes, get_settings().upload_max_bytes):
        return envelope(413, TOO_LARGE)
    receiver = _Receiver(store, declared_bytes)
    try:
        with receiver.stack:
            parser = MultipartParser(
                params[b"boundary"],
                receiver.callbacks(),
                max_header_count=HEADERS_PER_PART,
                max_header_size=HEADER_MAX_BYTES,
            )
            before_file_bytes = 0
            async for chunk in request.stream():
                if receiver.writer is None:
                    # Fed no further than the cap until the file part has begun.
                    room = BEFORE_FILE_MAX_BYTES - before_file_bytes
                    head, chunk = chunk[:room], chunk[room:]
                    parser.write(head)
                    before_file_bytes += len(head)
                    if receiver.writer is None and chunk:
                        raise UploadRejected(413, FIELDS_TOO_LARGE)
                parser.write(chunk)
                if receiver.done:
                    break  # what follows the file is an epilogue: not worth reading
            parser.finalize()
            if not receiver.done:
                raise UploadRejected(400, NO_FILE)
    except UploadRejected as exc:
        return envelope(exc.status_code, exc.message)
    except FormParserError:
        return envelope(400, MALFORMED)
    return Response(status_code=204)


def _over(declared_bytes: int | None, file_max_bytes: int) -> bool:
    """Whether a declared body length is more than a file of `file_max_bytes` can take."""
    return declared_bytes is not None and declared_bytes > file_max_bytes + BEFORE_FILE_MAX_BYTES


routes = [Route(LOCAL_UPLOAD_PATH, receive_upload, methods=["POST"], name="upload_store")]
