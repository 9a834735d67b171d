"""Overview (being built)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.admin.pages import render


async def page(request: Request) -> Response:
    return render(request, "admin/placeholder.html", {"heading": "Overview"})


routes = [Route("/", page, methods=["GET"], name="admin_overview")]
