"""Builds the sandbox ASGI app: routes, the request gate and HubSpot-shaped errors."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from . import (
    page,
    routes_associations,
    routes_faults,
    routes_labels,
    routes_objects,
    routes_owners,
    routes_pipelines,
    routes_properties,
    routes_timeline,
)
from .errors import ApiError, error_response
from .faults import FaultPlan
from .gate import ApiGate
from .state import SandboxState


def _correlation_id(request: Request) -> str:
    return request.state.correlation_id


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc, _correlation_id(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods, in HubSpot's error shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = ApiError(
            404, "OBJECT_NOT_FOUND", f"No API route matches {request.method} {request.url.path}"
        )
    else:
        error = ApiError(
            exc.status_code, "VALIDATION_ERROR", f"HTTP {exc.status_code}: {exc.detail}"
        )
    return error_response(error, _correlation_id(request))


def create_sandbox_app(
    *,
    access_token: str = "sandbox-token",
    search_lag_s: float = 2.0,
    burst_limit: int = 100,
    burst_window_s: float = 10.0,
    daily_limit: int = 250_000,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """An in-memory HubSpot portal speaking the CRM v3/v4 wire format.

    ``app.state.sandbox`` is its ``SandboxState``; ``app.state.faults`` the
    ``FaultPlan`` consulted on every API request (it interferes only once configured),
    on the same clock so tests can move time past outage windows.
    """
    app = Starlette(
        routes=[
            *page.ROUTES,
            *routes_faults.ROUTES,
            *routes_objects.ROUTES,
            *routes_associations.ROUTES,
            *routes_labels.ROUTES,
            *routes_properties.ROUTES,
            *routes_pipelines.ROUTES,
            *routes_timeline.ROUTES,
            *routes_owners.ROUTES,
        ],
        middleware=[Middleware(ApiGate)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.router.redirect_slashes = False  # HubSpot does not redirect; paths must be exact
    app.state.sandbox = SandboxState(
        access_token=access_token,
        search_lag_s=search_lag_s,
        burst_limit=burst_limit,
        burst_window_s=burst_window_s,
        daily_limit=daily_limit,
        clock=clock,
    )
    app.state.faults = FaultPlan(clock=clock)
    return app
