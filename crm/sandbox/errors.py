"""HubSpot's error bodies, built in one place so every route fails the same way.

Real bodies (and the OpenAPI ``Error`` schema) are ``{status: "error", message,
correlationId, category}`` plus optional ``errors[]``, ``context``, ``subCategory``;
clients parse ``message`` (e.g. ``Existing ID: 123``), so wording matters.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

CORRELATION_HEADER = "X-HubSpot-Correlation-Id"
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """An error answer; raised anywhere below a route, turned into JSON by the app."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors is not None:
            body["errors"] = self.errors
        if self.context is not None:
            body["context"] = self.context
        body.update(self.extra)
        return body

    def standard_error(self) -> dict[str, Any]:
        """The per-item ``StandardError`` shape used inside 207 batch answers."""
        item: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "errors": self.errors or [],
            "context": self.context or {},
            "links": {},
        }
        if self.sub_category:
            item["subCategory"] = self.sub_category
        return item


def error_response(
    exc: ApiError, correlation_id: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    all_headers = {CORRELATION_HEADER: correlation_id, **(headers or {})}
    return JSONResponse(exc.body(correlation_id), status_code=exc.status, headers=all_headers)


def validation_error(
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, errors=errors, context=context)


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message)


def unauthorized() -> ApiError:
    return ApiError(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)


def invalid_json(detail: str, line: int = 1, column: int = 1) -> ApiError:
    return validation_error(f"Invalid input JSON on line {line}, column {column}: {detail}")


@dataclass(frozen=True)
class PropertyIssue:
    """One rejected property value, as listed in "Property values were not valid"."""

    name: str
    code: str
    message: str


def property_values_error(issues: list[PropertyIssue]) -> ApiError:
    """HubSpot's 400 for bad property values: a JSON list inside ``message``, mirrored in
    ``errors[]`` with ``code`` and ``context.propertyName``."""
    listed = [
        {"isValid": False, "message": i.message, "error": i.code, "name": i.name} for i in issues
    ]
    return validation_error(
        "Property values were not valid: " + json.dumps(listed, separators=(",", ":")),
        errors=[
            {"message": i.message, "code": i.code, "context": {"propertyName": [i.name]}}
            for i in issues
        ],
    )
