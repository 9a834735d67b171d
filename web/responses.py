"""The JSON envelope every API answer uses: `{"success", "message", "errors", "data"}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response


def envelope(
    status_code: int,
    message: str,
    *,
    errors: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "success": 200 <= status_code < 300,
        "message": message,
        "errors": dict(errors or {}),
        "data": dict(data or {}),
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


def answer_before_routing(path: str, status_code: int, message: str) -> Response:
    """A middleware's refusal in the shape the path's clients expect: the API's envelope,
    else a minimal page."""
    if path.startswith("/api/"):
        return envelope(status_code, message)
    page = f"<!doctype html><title>{message}</title><p>{message}</p>"
    return HTMLResponse(page, status_code)
