"""The answers an injected fault sends instead of the real one, shaped like HubSpot's:
its JSON error body, the 401 INVALID_AUTHENTICATION body, the 429 TEN_SECONDLY_ROLLING
body with exhausted rate-limit headers, and for 502 the bare HTML page HubSpot's edge
sends, because a client must cope with an error body that is not JSON."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import HTMLResponse, JSONResponse, Response

from .errors import CORRELATION_HEADER, ApiError, error_response, unauthorized
from .ratelimit import limit_body
from .state import SandboxState

GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    '<body bgcolor="white">\r\n<center><h1>502 Bad Gateway</h1></center>\r\n'
    "</body>\r\n</html>\r\n"
)
_MESSAGES = {
    500: "internal error",
    503: "Service Unavailable: HubSpot is temporarily unable to handle this request",
    504: "The request timed out before it could be completed",
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # HubSpot's own codes, e.g. 477 Migration in progress
        return f"HTTP {status}"


def fault_reply(status: int, correlation_id: str, state: SandboxState) -> Response:
    if status == 401:
        return error_response(unauthorized(), correlation_id)
    if status == 429:
        body = limit_body("TEN_SECONDLY_ROLLING", correlation_id, state.portal_id)
        headers = {CORRELATION_HEADER: correlation_id, **state.rate_limit_headers(remaining=0)}
        return JSONResponse(body, status_code=429, headers=headers)
    if status == 502:
        return HTMLResponse(GATEWAY_PAGE, status_code=502)
    category = "INTERNAL_ERROR" if status >= 500 else "ERROR"
    message = _MESSAGES.get(status, _phrase(status))
    return error_response(ApiError(status, category, message), correlation_id)
