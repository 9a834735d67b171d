"""Submissions: the list (by status and form, searched by e-mail, paged) and one
submission's detail, with every HubSpot call made for it and what HubSpot answered."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.services import property_map
from crm.app_links import record_url
from settings import get_settings
from storage import listing
from storage.tables import SUBMISSION_STATUSES
from web.admin.levers import lever_context
from web.admin.pages import render
from web.admin.querystring import choice, pager, search_text


async def list_page(request: Request) -> Response:
    form_types = sorted(property_map().forms)
    filters = {
        "status": choice(request, "status", SUBMISSION_STATUSES),
        "form_type": choice(request, "form_type", form_types),
        "email": search_text(request),
    }
    page = await listing.list_submissions(
        **filters,
        before=request.query_params.get("before"),
        after=request.query_params.get("after"),
    )
    context = {
        "filters": filters,
        "statuses": SUBMISSION_STATUSES,
        "form_types": form_types,
        "page": page,
        "pager": pager(request, page),
        **await lever_context(request),
    }
    return render(request, "admin/submissions.html", context)


async def detail_page(request: Request) -> Response:
    detail = await listing.submission_detail(request.path_params["submission_id"])
    if detail is None:
        context = {"heading": "No such submission", "back": "admin_submissions"}
        return render(request, "admin/missing.html", context, status_code=404)
    row = detail.submission
    portal_id = get_settings().hubspot_portal_id
    context = {
        "detail": detail,
        "contact_url": record_url(portal_id, "contact", row.hubspot_contact_id),
        "deal_url": record_url(portal_id, "deal", row.hubspot_deal_id),
        "max_calls": listing.MAX_CALLS,
        **await lever_context(request),
    }
    return render(request, "admin/submission.html", context)


routes = [
    Route("/submissions", list_page, methods=["GET"], name="admin_submissions"),
    Route(
        "/submissions/{submission_id:uuid}",
        detail_page,
        methods=["GET"],
        name="admin_submission",
    ),
]
