"""Where a visitor's unfinished form is found: a signed cookie per form holding a draft id.

The browser holds only the id; the fields stay in `storage.drafts`. The cookie lives as
long as a draft does (`settings.draft_ttl`), and each saved step renews both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

from actors.services import property_map
from settings import get_settings
from storage.drafts import Draft, delete_drafts, load_draft, save_draft
from web import cookies

COOKIE_PREFIX = "leadsync_draft_"
_SALT = "web.drafts"


def cookie_name(form_type: str) -> str:
    return f"{COOKIE_PREFIX}{form_type}"


def draft_id_from(request: HTTPConnection, form_type: str) -> uuid.UUID | None:
    value = cookies.read_signed(
        request, cookie_name(form_type), salt=_SALT, max_age_s=get_settings().draft_ttl
    )
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def current_draft(request: HTTPConnection, form_type: str) -> Draft | None:
    """The visitor's live draft of this form, if their cookie names one."""
    draft_id = draft_id_from(request, form_type)
    return await load_draft(draft_id, form_type) if draft_id else None


async def keep_draft(
    request: HTTPConnection,
    response: Response,
    form_type: str,
    fields: Mapping[str, Any],
    step: str,
) -> None:
    """Save the draft (a new one when the cookie names none) and renew its cookie.

    Only the form's fields are kept, each cut to what the field takes."""
    ttl_s = get_settings().draft_ttl
    draft_id = await save_draft(
        form_type=form_type,
        fields=property_map().bounded(form_type, fields),
        step=step,
        ttl_s=ttl_s,
        draft_id=draft_id_from(request, form_type),
    )
    cookies.set_signed(
        response, request, cookie_name(form_type), str(draft_id), salt=_SALT, max_age_s=ttl_s
    )


async def forget_drafts(
    request: HTTPConnection, response: Response, form_types: Iterable[str]
) -> None:
    """Delete the visitor's drafts of these forms and their cookies."""
    form_types = list(form_types)
    ids = [draft_id for t in form_types if (draft_id := draft_id_from(request, t)) is not None]
    await delete_drafts(*ids)
    for form_type in form_types:
        if cookie_name(form_type) in request.cookies:
            cookies.delete(response, request, cookie_name(form_type))
