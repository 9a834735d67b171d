"""The steps of each multi-step form: which fields each asks for, and what it is called.

Data, not code: reorder or retitle steps here. A field of the form (in
`hubspot_properties.json`) that no step lists is asked in the last step, so a field added
to the mapping is never silently dropped; fields the upload flow sets are never asked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from actors.services import property_map

#: Fields set by the upload flow, never typed: kept as hidden inputs when posted.
NOT_TYPED = frozenset({"uploadId"})

_ABOUT_YOU = ("about-you", "About you", ("firstName", "lastName", "email", "phone", "jobTitle"))
_COMPANY = ("company", "Your company", ("company", "country"))
_CLOSING = ("serviceInterests", "projectDetails")
_LAST = ("referralSource", "marketingConsent")

#: form type -> (key, title, field names) per step, in order. Keys name steps in drafts.
STEP_DEFINITIONS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "contact": (
        _ABOUT_YOU,
        _COMPANY,
        ("project", "Your project", (*_CLOSING, *_LAST)),
    ),
    "demo_request": (
        _ABOUT_YOU,
        _COMPANY,
        (
            "project",
            "Your project",
            (*_CLOSING, "preferredDate", "preferredTime", "timeZone", *_LAST),
        ),
    ),
    "quote_request": (
        _ABOUT_YOU,
        _COMPANY,
        ("project", "Your project", (*_CLOSING, "budget", "timeline", *_LAST)),
    ),
}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    fields: tuple[str, ...]


@functools.cache
def steps_for(form_type: str) -> tuple[Step, ...]:
    """The form's steps, each listing only fields the form has; unlisted ones go last."""
    form_fields = property_map().form(form_type).fields
    steps = [
        Step(key, title, tuple(name for name in names if name in form_fields))
        for key, title, names in STEP_DEFINITIONS[form_type]
    ]
    listed = {name for step in steps for name in step.fields}
    unlisted = tuple(name for name in form_fields if name not in listed and name not in NOT_TYPED)
    last = steps[-1]
    steps[-1] = Step(last.key, last.title, last.fields + unlisted)
    return tuple(steps)
