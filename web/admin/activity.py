"""Admin activity: the audit trail of who signed in and pulled which lever, newest first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.listing import list_admin_actions
from web.admin.levers import lever_context
from web.admin.pages import render
from web.admin.querystring import pager


async def page(request: Request) -> Response:
    actions = await list_admin_actions(
        before=request.query_params.get("before"), after=request.query_params.get("after")
    )
    context = {"page": actions, "pager": pager(request, actions), **await lever_context(request)}
    return render(request, "admin/activity.html", context)


routes = [Route("/activity", page, methods=["GET"], name="admin_activity")]
