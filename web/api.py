"""The JSON API for headless use: one endpoint per form type.

JSON bodies only and no CSRF token: a browser cannot post JSON cross-site without a CORS
preflight, and the app grants none.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.responses import envelope
from web.submit import accept_submission

ACCEPTED_MESSAGE = "Thank you! We have received your request and will be in touch shortly."


def submission_endpoint(form_type: str):
    async def endpoint(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return envelope(415, "Send the form as JSON with Content-Type: application/json.")
        try:
            raw = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return envelope(400, "The request body is not valid JSON.")
        if not isinstance(raw, dict):
            return envelope(422, "The request body must be a JSON object of form fields.")
        accepted = await accept_submission(form_type, raw)
        if not accepted.ok:
            return envelope(422, "Please correct the highlighted fields.", errors=accepted.errors)
        data = {"submission_id": str(accepted.submission_id), "status": "pending"}
        return envelope(202, ACCEPTED_MESSAGE, data=data)

    return endpoint


routes = [
    Route("/api/contact", submission_endpoint("contact"), methods=["POST"]),
    Route("/api/demo-request", submission_endpoint("demo_request"), methods=["POST"]),
    Route("/api/quote-request", submission_endpoint("quote_request"), methods=["POST"]),
]
