"""The one HubSpot error type, classified by what the caller should do about it."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Any

#: HubSpot's 409 message names the contact that already holds the e-mail.
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


class ErrorKind(enum.StrEnum):
    RATE_LIMITED = "rate_limited"  # 429: wait, then try again; not a failure
    TRANSIENT = "transient"  # 5xx, timeouts, connection errors: retry with backoff
    AUTHENTICATION = "authentication"  # 401/403: the token is wrong or lacks a scope
    CONFLICT = "conflict"  # 409: the object already exists
    PERMANENT = "permanent"  # other 4xx: retrying cannot help


#: What a refused input of a batch answer (207) asks of the caller, by HubSpot's category;
#: a category not listed is taken as transient, so retries (bounded) decide.
_INPUT_CATEGORIES = {
    "VALIDATION_ERROR": ErrorKind.PERMANENT,
    "OBJECT_NOT_FOUND": ErrorKind.PERMANENT,
    "INVALID_PARAMS": ErrorKind.PERMANENT,
    "BAD_REQUEST": ErrorKind.PERMANENT,
    "CONFLICT": ErrorKind.CONFLICT,
    "OBJECT_ALREADY_EXISTS": ErrorKind.CONFLICT,
    "RATE_LIMITS": ErrorKind.RATE_LIMITED,
    "INVALID_AUTHENTICATION": ErrorKind.AUTHENTICATION,
    "MISSING_SCOPES": ErrorKind.AUTHENTICATION,
}
#: The HTTP status of a multi-status answer: the call worked, some inputs did not.
MULTI_STATUS = 207


def classify(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (401, 403):
        return ErrorKind.AUTHENTICATION
    if status == 409:
        return ErrorKind.CONFLICT
    if status == 0 or status >= 500 or status in (423, 477):
        return ErrorKind.TRANSIENT
    return ErrorKind.PERMANENT


class HubSpotError(Exception):
    """A failed HubSpot call, with HubSpot's own message and correlation id kept."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int = 0,
        operation: str = "",
        correlation_id: str | None = None,
        category: str | None = None,
        retry_after_s: float | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.operation = operation
        self.correlation_id = correlation_id
        self.category = category
        self.retry_after_s = retry_after_s
        self.body = dict(body or {})

    @classmethod
    def from_response(
        cls, operation: str, status: int, body_text: str | None, headers: Mapping[str, str]
    ) -> HubSpotError:
        body = _json_object(body_text)
        message = str(body.get("message") or f"HTTP {status} from HubSpot")
        return cls(
            classify(status),
            message,
            status=status,
            operation=operation,
            correlation_id=body.get("correlationId") or headers.get("X-HubSpot-Correlation-Id"),
            category=body.get("category") or body.get("errorType"),
            retry_after_s=_retry_after_s(status, body, headers),
            body=body,
        )

    @classmethod
    def from_input_error(
        cls, operation: str, error: Mapping[str, Any], correlation_id: str | None
    ) -> HubSpotError:
        """One refused input of a 207 answer (a `StandardError`, as the SDK parses it)."""
        category = error.get("category")
        return cls(
            _INPUT_CATEGORIES.get(str(category), ErrorKind.TRANSIENT),
            str(error.get("message") or "HubSpot refused this input"),
            status=MULTI_STATUS,
            operation=operation,
            correlation_id=correlation_id,
            category=category,
            body=error,
        )

    @property
    def existing_id(self) -> str | None:
        """The id HubSpot names in a 409 "already exists" answer."""
        texts = [self.message] + [str(e.get("message", "")) for e in self.body.get("errors", [])]
        for text in texts:
            if match := _EXISTING_ID.search(text):
                return match.group(1)
        return None

    def describe(self) -> str:
        """One line for logs and the submission row: never contains the token."""
        parts = [f"{self.operation}: " if self.operation else "", self.message]
        if self.status:
            # A 207: HubSpot took the call and refused this one input of it.
            multi = self.status == MULTI_STATUS
            parts.append(" (refused in a batch call" if multi else f" (HTTP {self.status}")
            parts.append(f", correlationId {self.correlation_id})" if self.correlation_id else ")")
        return "".join(parts)


class WriteInDoubt(Exception):
    """A create was sent and never answered; look for its result after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"an unanswered write may still land; looking again in {retry_after_s:.1f} s"
        )
        self.retry_after_s = retry_after_s


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        body = json.loads(text or "")
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after_s(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str]
) -> float | None:
    """How long HubSpot asks us to wait: Retry-After, else the rate-limit policy's window."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    if status != 429:
        return None
    if body.get("policyName") == "DAILY":
        return None  # the caller decides how long to wait: until the quota resets
    if body.get("policyName") == "SECONDLY":
        return 1.0
    interval_ms = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return float(interval_ms) / 1000 if interval_ms else 10.0
    except ValueError:
        return 10.0
