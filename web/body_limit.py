"""Request bodies over the limit get 413 before any of them is buffered or parsed.

Starlette's own limit answers in plain text; the API promises its JSON envelope, so this
one answers in the shape the path's clients expect.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage.objects import LOCAL_UPLOAD_PATH
from web.responses import answer_before_routing

TOO_LARGE = "The request is too large. Shorten the longest fields and send it again."
#: Paths that cap their bodies themselves: the local store's upload endpoint holds each
#: upload to the size its signed policy names (`storage/objects.py`).
SELF_LIMITED_PATHS = frozenset({LOCAL_UPLOAD_PATH})


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in SELF_LIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await answer_before_routing(scope["path"], 413, TOO_LARGE)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await answer_before_routing(scope["path"], 413, TOO_LARGE)(scope, receive, send)
