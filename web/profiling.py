"""Progressive profiling: a returning visitor is not asked again for what we already hold.

A successful submit leaves a signed first-party cookie holding the submission's id (not
PII). The next form looks that submission up in our own database, never in HubSpot, and
treats its contact fields as known: they are not shown, and are merged into the next
submission on the server. "Not you?" clears the cookie.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from actors.services import property_map
from storage.submissions import get_submission
from web import cookies

VISITOR_COOKIE = "leadsync_visitor"
#: A year: long enough to recognise a visitor who comes back for the next project.
VISITOR_COOKIE_MAX_AGE_S = 365 * 24 * 3600
_SALT = "web.profiling"
#: Contact fields worth not asking twice; project answers are asked every time.
PROFILE_FIELDS = ("email", "firstName", "lastName", "company", "country", "phone", "jobTitle")


@dataclass(frozen=True)
class Profile:
    """What we hold about a returning visitor, cleaned as the forms would clean it."""

    submission_id: uuid.UUID
    known: dict[str, str]

    @property
    def first_name(self) -> str | None:
        return self.known.get("firstName")


async def load_profile(request: HTTPConnection) -> Profile | None:
    """The visitor's profile from their last submission, or None for a new visitor."""
    value = cookies.read_signed(
        request, VISITOR_COOKIE, salt=_SALT, max_age_s=VISITOR_COOKIE_MAX_AGE_S
    )
    try:
        submission_id = uuid.UUID(value) if value else None
    except ValueError:
        return None
    row = await get_submission(submission_id) if submission_id else None
    if row is None:
        return None
    # Cleaned today, so a value the rules now refuse is asked again rather than hidden.
    cleaned = property_map().clean(row.form_type, row.raw_fields).values
    known = {
        name: value
        for name in PROFILE_FIELDS
        if isinstance(value := cleaned.get(name), str) and value
    }
    return Profile(submission_id=row.id, known=known) if known else None


def remember_visitor(request: HTTPConnection, response: Response, submission_id: uuid.UUID) -> None:
    cookies.set_signed(
        response,
        request,
        VISITOR_COOKIE,
        str(submission_id),
        salt=_SALT,
        max_age_s=VISITOR_COOKIE_MAX_AGE_S,
    )


def forget_visitor(request: HTTPConnection, response: Response) -> None:
    cookies.delete(response, request, VISITOR_COOKIE)
