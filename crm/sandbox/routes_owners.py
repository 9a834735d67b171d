"""Owners v3 (``/crm/v3/owners/``): the seeded users, for ``hubspot_owner_id``.

The SDK lists owners at ``/crm/v3/owners/`` with a trailing slash; both spellings
are served.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import not_found, validation_error
from .wire import answer, query_bool, query_int, sandbox

MAX_PAGE = 500


async def list_owners(request: Request) -> Response:
    limit, after = query_int(request, "limit", 100), query_int(request, "after", 0)
    if not 1 <= limit <= MAX_PAGE or after < 0:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}")
    email = (request.query_params.get("email") or "").strip().lower()
    archived = query_bool(request, "archived")
    state = sandbox(request)
    with state.lock:
        owners = [
            dict(o)
            for o in state.owners
            if o["archived"] == archived and (not email or o["email"] == email)
        ]
    body: dict[str, Any] = {"results": owners[after : after + limit]}
    if after + limit < len(owners):
        cursor = str(after + limit)
        body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return answer(body)


async def get_owner(request: Request) -> Response:
    wanted = request.path_params["ownerId"]
    key = "userId" if request.query_params.get("idProperty") == "userId" else "id"
    archived = query_bool(request, "archived")
    state = sandbox(request)
    with state.lock:
        for owner in state.owners:
            if str(owner[key]) == wanted and owner["archived"] == archived:
                return answer(dict(owner))
    raise not_found(f"No owner with {key} {wanted}")


ROUTES = [
    Route("/crm/v3/owners/", list_owners, methods=["GET"]),
    Route("/crm/v3/owners", list_owners, methods=["GET"]),
    Route("/crm/v3/owners/{ownerId}", get_owner, methods=["GET"]),
]
