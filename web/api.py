"""The JSON API for headless use: one endpoint per form type.

JSON bodies only and no CSRF token: a browser cannot post JSON cross-site without a CORS
preflight, and the app grants none. `web/openapi.py` describes exactly what these do.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actors.services import property_map
from crm.mapping import FieldSpec
from crm.transforms import BOOLEAN_TRANSFORMS
from web.protection import PROTECTION_FIELDS, check_submission
from web.responses import envelope
from web.submit import accept_submission

#: URL path -> form type.
API_FORMS = {
    "/api/contact": "contact",
    "/api/demo-request": "demo_request",
    "/api/quote-request": "quote_request",
}
ACCEPTED_MESSAGE = "Thank you! We have received your request and will be in touch shortly."
INVALID_MESSAGE = "Please correct the highlighted fields."
NOT_JSON_MESSAGE = "Send the form as JSON with Content-Type: application/json."
MALFORMED_MESSAGE = "The request body is not valid JSON."
NOT_OBJECT_MESSAGE = "The request body must be a JSON object of form fields."


def submission_endpoint(form_type: str):
    async def endpoint(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return envelope(415, NOT_JSON_MESSAGE)
        try:
            raw = await parse_json(await request.body())
        except (ValueError, RecursionError):
            return envelope(400, MALFORMED_MESSAGE)
        if not isinstance(raw, dict):
            return envelope(422, NOT_OBJECT_MESSAGE)
        form, unknown = property_map().split_known(form_type, raw)
        ignored = [name for name in unknown if name not in PROTECTION_FIELDS]
        rejection = await check_submission(request, raw)
        if rejection is not None and rejection.pretend_success:
            return accepted(uuid.uuid4(), ignored)
        if rejection is not None:
            return envelope(
                rejection.status_code,
                rejection.message,
                errors=rejection.errors,
                headers=rejection.headers,
            )
        errors = json_type_errors(form_type, form)
        if errors:
            # Report every field at once: the rest are checked as if the bad ones were absent.
            rest = _without_spellings(form, errors)
            errors = property_map().clean(form_type, rest).errors | errors
            return envelope(422, INVALID_MESSAGE, errors=errors)
        result = await accept_submission(form_type, form)
        if not result.ok:
            return envelope(422, INVALID_MESSAGE, errors=result.errors)
        return accepted(result.submission_id, ignored)

    return endpoint


def accepted(submission_id: uuid.UUID | None, ignored: list[str]) -> JSONResponse:
    """202, naming the members that are no field of the form: they were not stored."""
    data = {"submission_id": str(submission_id), "status": "pending", "ignored": ignored}
    return envelope(202, ACCEPTED_MESSAGE, data=data)


async def parse_json(body: bytes) -> Any:
    """The body's JSON, parsed off the event loop: a thread starts with no stack in use, so
    nesting up to the recursion limit parses (its members are then ignored, not refused)."""
    return await asyncio.to_thread(json.loads, body, parse_constant=_not_json)


def json_type_errors(form_type: str, raw: Mapping[str, Any]) -> dict[str, str]:
    """Fields (by canonical name) whose JSON value has a type or length the form never takes.

    What JSON adds to a posted form: numbers, booleans, objects and nesting. The mapping would
    read some of them as text; the API takes each field in the one shape it documents.
    """
    errors: dict[str, str] = {}
    for name in property_map().form(form_type).fields:
        spec = property_map().fields[name]
        for key in spec.spellings:
            if key in raw and (error := json_type_error(spec, raw[key])):
                errors.setdefault(name, error)
    return errors


def json_type_error(spec: FieldSpec, value: Any) -> str | None:
    """Why `value` is the wrong JSON for the field, or None; null counts as left out."""
    if value is None:
        return None
    if spec.transform in BOOLEAN_TRANSFORMS:
        return None if isinstance(value, bool | str) else f"{spec.label} must be true or false."
    if spec.multiple:
        if isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            return None
        return "Choose one or more of the listed options."
    if not isinstance(value, str):
        return f"{spec.label} must be text."
    if spec.max_length and len(value) > spec.max_length:
        return f"{spec.label} must be at most {spec.max_length} characters."
    return None


def _not_json(constant: str) -> Any:
    """NaN and Infinity: Python reads them, JSON has no such thing, PostgreSQL refuses them."""
    raise ValueError(f"{constant} is not JSON")


def _without_spellings(raw: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """`raw` without any spelling (name or alias) of the fields in `names`."""
    fields = property_map().fields
    dropped = {key for name in names for key in fields[name].spellings}
    return {key: value for key, value in raw.items() if key not in dropped}


routes = [
    Route(path, submission_endpoint(form_type), methods=["POST"])
    for path, form_type in API_FORMS.items()
]
