"""Rendering a dashboard page: the admin's name, the navigation, the admin stylesheet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from web.templating import asset_version, static_path, templates

#: The dashboard's sections, by route name, in the order the navigation shows them.
NAV = (
    ("admin_overview", "Overview"),
    ("admin_submissions", "Submissions"),
    ("admin_uploads", "Uploads"),
    ("admin_people", "People"),
    ("admin_activity", "Admin activity"),
)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    page = {
        "admin": request.scope.get("admin"),
        "admin_nav": NAV,
        "admin_css_src": f"{static_path(request, 'admin.css')}?v={asset_version('admin.css')}",
        **(context or {}),
    }
    return templates.TemplateResponse(
        request, name, page, status_code=status_code, headers=dict(headers or {})
    )
