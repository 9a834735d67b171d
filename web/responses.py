"""The JSON envelope every API answer uses: `{"success", "message", "errors", "data"}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse


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
