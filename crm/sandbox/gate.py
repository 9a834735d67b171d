"""The gate every request passes: correlation id, fault hook, auth, rate limits, log.

A pure ASGI middleware so it can add headers to any answer (including errors from
exception handlers) and record the final status of each request. Order matters and
matches HubSpot: authentication first, then the rate limit, so unauthenticated
calls and rejected (429) calls never count as work.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import CORRELATION_HEADER, ApiError, error_response, new_correlation_id, unauthorized
from .faults import Fault, FaultPlan
from .ratelimit import limit_body
from .state import SandboxState

logger = logging.getLogger(__name__)

_SEARCH = re.compile(r"^/crm/v3/objects/[^/]+/search$")
#: Timeline templates are app-level (developer ``hapikey``), not portal-level, calls.
_DEVELOPER = re.compile(r"^/integrators/timeline/v3/\d+/event-templates(/.*)?$")


def is_public(path: str) -> bool:
    """The sandbox's own pages need no token."""
    return path == "/" or path.startswith("/_sandbox/")


def _fault_response(status: int, correlation_id: str) -> Response:
    if status == 401:
        return error_response(unauthorized(), correlation_id)
    message = "Service unavailable" if status == 503 else "Internal error"
    return error_response(ApiError(status, "INTERNAL_ERROR", message), correlation_id)


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
        sent: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"], sent["started"] = message["status"], True
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
                # Logged before the answer leaves, so a client that got it sees the entry.
                state.log(scope["method"], scope["path"], message["status"])
            await send(message)

        fault = plan.fault_for(scope["method"], scope["path"])
        try:
            if fault and fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            refusal = self._refusal(scope, state, fault, correlation_id, extra)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            elif fault and fault.status_after_write:
                await self.app(scope, receive, _swallow)
                failed = _fault_response(fault.status_after_write, correlation_id)
                await failed(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("sandbox request failed: %s %s", scope["method"], scope["path"])
            if sent["started"]:
                raise
            crash = ApiError(500, "INTERNAL_ERROR", "Internal error in the HubSpot sandbox")
            await error_response(crash, correlation_id)(scope, receive, send_with_headers)
        finally:
            if not sent["started"]:
                state.log(scope["method"], scope["path"], sent["status"])

    def _refusal(
        self,
        scope: Scope,
        state: SandboxState,
        fault: Fault | None,
        correlation_id: str,
        extra: dict[str, str],
    ) -> Response | None:
        """The answer that stops the request before its route runs, if any."""
        if fault and fault.status:
            return _fault_response(fault.status, correlation_id)
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
            body = limit_body(verdict.policy, correlation_id, state.portal_id)
            return JSONResponse(body, status_code=429)
        return None


async def _swallow(message: Message) -> None:
    """Discard an answer (the client never sees it, but the write happened)."""
