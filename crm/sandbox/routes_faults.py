"""The fault plan and traffic figures over HTTP, for processes that cannot reach
``app.state`` (the product under test runs in other processes in a chaos run).

``POST /_sandbox/faults`` changes the options given in its JSON object and keeps the
rest, ``DELETE`` clears everything; all three answer the plan as ``GET`` shows it.
``GET /_sandbox/stats?window_s=`` answers the request figures. No token needed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import validation_error
from .faults import FaultPlan
from .wire import answer, read_json, sandbox


def _plan(request: Request) -> FaultPlan:
    return request.app.state.faults


async def show(request: Request) -> Response:
    return answer(_plan(request).describe())


async def configure(request: Request) -> Response:
    options = await read_json(request)
    if not isinstance(options, dict):
        raise validation_error("Fault options must be a JSON object")
    try:
        _plan(request).configure(**options)
    except ValueError as exc:
        raise validation_error(str(exc)) from None
    return answer(_plan(request).describe())


async def clear(request: Request) -> Response:
    _plan(request).clear()
    return answer(_plan(request).describe())


async def stats(request: Request) -> Response:
    raw = request.query_params.get("window_s")
    try:
        window_s = None if raw in (None, "") else float(raw)
        return answer(sandbox(request).stats(window_s))
    except ValueError:
        raise validation_error(f"window_s must be a positive number, got {raw!r}") from None


ROUTES = [
    Route("/_sandbox/faults", show, methods=["GET"]),
    Route("/_sandbox/faults", configure, methods=["POST"]),
    Route("/_sandbox/faults", clear, methods=["DELETE"]),
    Route("/_sandbox/stats", stats, methods=["GET"]),
]
