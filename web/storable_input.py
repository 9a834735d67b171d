"""Text the database cannot hold is refused with 422 before any endpoint sees it.

One check for every place a person can type: the query string, and JSON, urlencoded and
multipart bodies (file contents aside). NUL and lone surrogates would otherwise reach
PostgreSQL and fail there as a 500 (SQLite stores them, so the check is ours); invalid
UTF-8, which Starlette decodes by guessing, is refused too. Bodies are read whole: the
body limit outside this middleware bounds them. The local store's upload endpoint parses
its own stream (`web/upload_store.py`) and is passed through.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from storage.objects import LOCAL_UPLOAD_PATH
from storage.storable import UNSTORABLE_MESSAGE, all_storable
from web.replay import replay
from web.responses import answer_before_routing

JSON = b"application/json"
URLENCODED = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data"


class StorableInputMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The API's one query parameter is a signed token: a bad one is simply not found.
        api = scope["path"].startswith("/api/")
        storable = api or storable_urlencoded(scope["query_string"])
        content_type, options = parse_options_header(Headers(scope=scope).get("content-type"))
        checked = content_type in {JSON, URLENCODED, MULTIPART}
        if storable and checked and scope["path"] != LOCAL_UPLOAD_PATH:
            body = await _read_body(receive)
            receive = replay(body, receive)
            storable = await storable_body(content_type, options, body)
        if not storable:
            refusal = answer_before_routing(scope["path"], 422, UNSTORABLE_MESSAGE)
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def storable_urlencoded(data: bytes) -> bool:
    """Every name and value of `data` (a query string or form body) decodes to storable text."""
    return _storable_bytes(unquote_to_bytes(data.replace(b"+", b" ")))


async def storable_body(content_type: bytes, options: dict[bytes, bytes], body: bytes) -> bool:
    """Whether the body's text is storable; a body that does not parse is the endpoint's to
    refuse, in its own words."""
    if content_type == URLENCODED:
        return storable_urlencoded(body)
    if content_type == MULTIPART:
        return _storable_multipart(options.get(b"boundary", b""), body)
    try:
        # In a thread: a fresh stack parses nesting the event loop's stack would not.
        value = await asyncio.to_thread(json.loads, body)
    except (ValueError, RecursionError):
        return True
    return all_storable(value)


def _storable_multipart(boundary: bytes, body: bytes) -> bool:
    """Every part's headers (names, file names) and every non-file part's value are storable."""
    texts: list[bytes] = []
    header = [b"", b""]
    part = {"disposition": b"", "is_file": False, "value": bytearray()}

    def header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def header_end() -> None:
        texts.extend(header)
        if header[0].lower() == b"content-disposition":
            part["disposition"] = header[1]
        header[:] = [b"", b""]

    def headers_finished() -> None:
        _, options = parse_options_header(part["disposition"])
        part["is_file"] = b"filename" in options
        part["value"] = bytearray()

    def part_data(data: bytes, start: int, end: int) -> None:
        if not part["is_file"]:
            part["value"] += data[start:end]

    def part_end() -> None:
        texts.append(bytes(part["value"]))
        part["disposition"] = b""

    callbacks = {
        "on_header_field": header_field,
        "on_header_value": header_value,
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": part_data,
        "on_part_end": part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError):
        return True
    return all(_storable_bytes(text) for text in texts)


def _storable_bytes(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)
