"""The gate every request passes: correlation id, fault hook, auth, rate limits, log.

A pure ASGI middleware so it can add headers to any answer (including errors from
exception handlers), hold or drop answers for injected faults, and record the final
status of each request. Order matters and matches HubSpot: authentication first, then
the rate limit, so unauthenticated calls and rejected (429) calls never count as work.
"""

from __future__ import annotations

import asyncio
import logging
import re

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import CORRELATION_HEADER, ApiError, error_response, new_correlation_id, unauthorized
from .faultreplies import fault_reply
from .faults import Fault, FaultPlan
from .hangup import hang_up
from .paths import is_public
from .ratelimit import limit_body
from .state import SandboxState

__all__ = ["ApiGate", "is_public"]

logger = logging.getLogger(__name__)

_SEARCH = re.compile(r"^/crm/v3/objects/[^/]+/search$")
#: Timeline templates are app-level (developer ``hapikey``), not portal-level, calls.
_DEVELOPER = re.compile(r"^/integrators/timeline/v3/\d+/event-templates(/.*)?$")


class _Exchange:
    """One request's bookkeeping: its status, and one log entry stamped with its arrival."""

    def __init__(self, state: SandboxState, scope: Scope) -> None:
        self.state, self.scope = state, scope
        self.arrived = state.now()
        self.status = 500
        self.started = self.logged = self.limited = False

    def log(self) -> None:
        if not self.logged:
            self.logged = True
            self.state.log(
                self.scope["method"],
                self.scope["path"],
                self.status,
                at=self.arrived,
                limited=self.limited,
            )


class ApiGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: SandboxState = scope["app"].state.sandbox
        plan: FaultPlan = scope["app"].state.faults
        correlation_id = new_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        extra: dict[str, str] = {CORRELATION_HEADER: correlation_id}
        exchange = _Exchange(state, scope)

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status, exchange.started = message["status"], True
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
                exchange.log()  # before the answer leaves, so a client that got it sees it
            await send(message)

        async def swallow(message: Message) -> None:
            """An answer the client never sees (the write happened); still logged."""
            if message["type"] == "http.response.start":
                exchange.status = message["status"]

        path = scope["path"]
        try:
            fault = None if is_public(path) else plan.fault_for(scope["method"], path)
            if fault and fault.delay_s:
                # Read the body first: a client that times out meanwhile is gone, and the
                # write must still happen as it would at HubSpot.
                receive = await _buffered(receive)
                await asyncio.sleep(fault.delay_s)
            refusal = self._refusal(scope, state, fault, correlation_id, extra, exchange)
            handler: ASGIApp = self.app if refusal is None else refusal
            if fault and fault.drop_answer:
                await handler(scope, receive, swallow)
                exchange.log()  # before the client can notice the hang-up
                if not await hang_up(scope):  # not uvicorn: the nearest thing, a 504
                    await fault_reply(504, correlation_id, state)(scope, receive, answer)
            elif fault and fault.status_after_write:
                await handler(scope, receive, swallow)
                failed = fault_reply(fault.status_after_write, correlation_id, state)
                await failed(scope, receive, answer)
            else:
                await handler(scope, receive, answer)
        except Exception:
            logger.exception("sandbox request failed: %s %s", scope["method"], path)
            if exchange.started:
                raise
            crash = ApiError(500, "INTERNAL_ERROR", "Internal error in the HubSpot sandbox")
            await error_response(crash, correlation_id)(scope, receive, answer)
        finally:
            exchange.log()

    def _refusal(
        self,
        scope: Scope,
        state: SandboxState,
        fault: Fault | None,
        correlation_id: str,
        extra: dict[str, str],
        exchange: _Exchange,
    ) -> Response | None:
        """The answer that stops the request before its route runs, if any."""
        if fault and fault.status:
            return fault_reply(fault.status, correlation_id, state)
        path = scope["path"]
        if is_public(path):
            return None
        request = Request(scope)
        if _DEVELOPER.match(path):
            authorised = bool(request.query_params.get("hapikey"))
        else:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            authorised = scheme.lower() == "bearer" and token.strip() == state.access_token
        if not authorised:
            return error_response(unauthorized(), correlation_id)
        verdict = state.admit(search=scope["method"] == "POST" and bool(_SEARCH.match(path)))
        extra.update(verdict.headers)
        if verdict.policy is not None:
            exchange.limited = True
            body = limit_body(verdict.policy, correlation_id, state.portal_id)
            return JSONResponse(body, status_code=429)
        return None


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned ``receive`` replays it, then defers
    to the server (which reports a disconnect if the client has gone)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
