"""Data subject rights: find a person by e-mail, export what is held about them, erase them.

Every step that names the person is a POST: the e-mail travels in the form body, never in a
URL that access logs and browser history would keep, and an export, which takes personal
data out of the system, is CSRF-checked and recorded like the erasure. The erasure's page
follows the HubSpot side (the notes and deals made for the person archived, then the contact
GDPR-deleted) until HubSpot answers; it is keyed by the e-mail's SHA-256, as the audit trail
is.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from actors.erasure import ERASE, EXPORT, HUBSPOT_OUTCOME, ErasureFailed, erase_person
from storage import people
from storage.admin import record_action
from storage.people import PersonBusy
from web.admin.auth import current_admin
from web.admin.pages import render

ENTER_EMAIL = "Enter the person's e-mail address."
NOT_CONFIRMED = "The address typed to confirm does not match. Nothing was deleted: type it again."
#: A SHA-256 in hex, as the erasure page's URL names a person.
EMAIL_HASH = re.compile(r"[0-9a-f]{64}")


async def page(request: Request) -> Response:
    return render(request, "admin/people.html")


async def search(request: Request) -> Response:
    email = _field(await request.form(), "email")
    if not email:
        return _ask_for_email(request)
    return await _person_page(request, email)


async def export(request: Request) -> Response:
    email = _field(await request.form(), "email")
    if not email:
        return _ask_for_email(request)
    person = await people.find(email)
    hashed = people.email_hash(email)
    await record_action(current_admin(request), EXPORT, hashed, {"exported": person.counts})
    disposition = f'attachment; filename="personal-data-{hashed[:12]}.json"'
    return JSONResponse(person.export(), headers={"Content-Disposition": disposition})


async def erase(request: Request) -> Response:
    form = await request.form()
    email = _field(form, "email")
    if not email:
        return _ask_for_email(request)
    if _field(form, "confirm_email") != email:
        return await _person_page(request, email, NOT_CONFIRMED, 400)
    try:
        await erase_person(email, current_admin(request))
    except PersonBusy as exc:
        return await _person_page(request, email, str(exc), 409)
    except ErasureFailed as exc:
        return await _person_page(request, email, str(exc), 503)
    target = request.url_for("admin_erasure", email_hash=people.email_hash(email))
    return RedirectResponse(target.path, status_code=303)


async def erasure(request: Request) -> Response:
    """The latest erasure of a person and HubSpot's answer; htmx polls it until one comes."""
    email_hash = request.path_params["email_hash"]
    trail = await people.trail(email_hash) if EMAIL_HASH.fullmatch(email_hash) else []
    context = _erasure_context(email_hash, trail)
    if context is None:
        missing = {"heading": "No erasure is recorded for this address", "back": "admin_people"}
        return render(request, "admin/missing.html", missing, 404)
    if request.headers.get("hx-request") == "true":
        return render(request, "admin/_erasure_status.html", context)
    return render(request, "admin/erasure.html", context)


def _erasure_context(email_hash: str, trail: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last erasure in `trail` and the HubSpot outcome recorded after it (None: pending)."""
    erasures = [row for row in trail if row["action"] == ERASE]
    if not erasures:
        return None
    latest = erasures[-1]
    outcomes = [
        row for row in trail if row["action"] == HUBSPOT_OUTCOME and row["id"] > latest["id"]
    ]
    return {
        "email_hash": email_hash,
        "erasure": latest,
        "outcome": outcomes[-1] if outcomes else None,
        "trail": trail,
    }


async def _person_page(
    request: Request, email: str, error: str | None = None, status_code: int = 200
) -> Response:
    context = {"email": email, "person": await people.find(email), "error": error}
    return render(request, "admin/people.html", context, status_code)


def _ask_for_email(request: Request) -> Response:
    return render(request, "admin/people.html", {"error": ENTER_EMAIL}, 400)


def _field(form: FormData, name: str) -> str:
    """A posted e-mail field, normalised; empty when absent or not text."""
    value = form.get(name)
    return people.normalise(value) if isinstance(value, str) else ""


routes = [
    Route("/people", page, methods=["GET"], name="admin_people"),
    Route("/people", search, methods=["POST"], name="admin_people_search"),
    Route("/people/export", export, methods=["POST"], name="admin_people_export"),
    Route("/people/erase", erase, methods=["POST"], name="admin_people_erase"),
    Route("/people/erasures/{email_hash}", erasure, methods=["GET"], name="admin_erasure"),
]
