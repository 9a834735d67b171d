"""Uploads: the list (by status and HubSpot update, searched by e-mail, paged) and one
upload's detail: its analysis as the visitor sees it, and its HubSpot calls."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm.app_links import record_url
from settings import get_settings
from storage import listing
from storage.uploads import CRM_STATUSES, UPLOAD_STATUSES
from web.admin.levers import lever_context
from web.admin.pages import render
from web.admin.querystring import choice, pager, search_text
from web.upload_view import status_view


async def list_page(request: Request) -> Response:
    filters = {
        "status": choice(request, "status", UPLOAD_STATUSES),
        "crm_status": choice(request, "crm_status", CRM_STATUSES),
        "email": search_text(request),
    }
    page = await listing.list_uploads(
        **filters,
        before=request.query_params.get("before"),
        after=request.query_params.get("after"),
    )
    context = {
        "filters": filters,
        "statuses": UPLOAD_STATUSES,
        "crm_statuses": CRM_STATUSES,
        "page": page,
        "pager": pager(request, page),
        **await lever_context(request),
    }
    return render(request, "admin/uploads.html", context)


async def detail_page(request: Request) -> Response:
    detail = await listing.upload_detail(request.path_params["upload_id"])
    if detail is None:
        context = {"heading": "No such upload", "back": "admin_uploads"}
        return render(request, "admin/missing.html", context, status_code=404)
    row = detail.upload
    context = {
        "detail": detail,
        "view": status_view(row, detail.analysis),
        "contact_url": record_url(
            get_settings().hubspot_portal_id, "contact", row.hubspot_contact_id
        ),
        "max_calls": listing.MAX_CALLS,
        **await lever_context(request),
    }
    return render(request, "admin/upload.html", context)


routes = [
    Route("/uploads", list_page, methods=["GET"], name="admin_uploads"),
    Route("/uploads/{upload_id:uuid}", detail_page, methods=["GET"], name="admin_upload"),
]
