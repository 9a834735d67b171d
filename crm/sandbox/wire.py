"""Small request/response helpers shared by the route modules."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import invalid_json, validation_error
from .state import SandboxState


def sandbox(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def read_json(request: Request, *, required: bool = True) -> Any:
    """The parsed body, or HubSpot's 400 "Invalid input JSON…" when it does not parse."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise invalid_json("No content to map due to end-of-input")
        return None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise invalid_json("Invalid UTF-8 in request body") from None
    except json.JSONDecodeError as exc:
        raise invalid_json(exc.msg, exc.lineno, exc.colno) from None


def query_list(request: Request, name: str) -> list[str] | None:
    """A repeated (``a=1&a=2``) or comma-separated (``a=1,2``) query parameter."""
    raw = request.query_params.getlist(name)
    if not raw:
        return None
    return [part.strip() for value in raw for part in value.split(",") if part.strip()]


def query_bool(request: Request, name: str) -> bool:
    """The SDK renders booleans as ``True``/``False``; HubSpot takes either case."""
    return request.query_params.get(name, "false").strip().lower() == "true"


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error(f"Invalid query parameter {name}: {raw}") from None


def answer(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)
