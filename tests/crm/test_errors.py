"""Every HubSpot failure is classified by what the caller should do about it."""

from __future__ import annotations

import json

import pytest

from crm.errors import ErrorKind, HubSpotError, classify


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ErrorKind.RATE_LIMITED),
        (500, ErrorKind.TRANSIENT),
        (502, ErrorKind.TRANSIENT),
        (0, ErrorKind.TRANSIENT),
        (477, ErrorKind.TRANSIENT),
        (401, ErrorKind.AUTHENTICATION),
        (403, ErrorKind.AUTHENTICATION),
        (409, ErrorKind.CONFLICT),
        (400, ErrorKind.PERMANENT),
        (404, ErrorKind.PERMANENT),
    ],
)
def test_status_codes_map_to_kinds(status: int, kind: ErrorKind) -> None:
    assert classify(status) is kind


def test_conflict_names_the_existing_contact_in_either_body_shape() -> None:
    classic = {
        "status": "error",
        "message": "Contact already exists. Existing ID: 2926551",
        "correlationId": "c-1",
        "category": "CONFLICT",
    }
    richer = {
        "status": "error",
        "message": "Conflict",
        "category": "OBJECT_ALREADY_EXISTS",
        "errors": [
            {
                "message": "A contact with email a@b.co already exists. Existing ID: 42",
                "in": "email",
            }
        ],
        "correlationId": "c-2",
    }

    assert HubSpotError.from_response("op", 409, json.dumps(classic), {}).existing_id == "2926551"
    assert HubSpotError.from_response("op", 409, json.dumps(richer), {}).existing_id == "42"


def test_rate_limit_wait_comes_from_the_policy_window() -> None:
    body = json.dumps(
        {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
            "correlationId": "c-3",
        }
    )

    error = HubSpotError.from_response(
        "op", 429, body, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    )

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after_s == 10.0
    assert error.category == "RATE_LIMIT"


def test_description_keeps_message_status_and_correlation_id() -> None:
    body = json.dumps(
        {
            "message": "Property values were not valid",
            "correlationId": "abc-123",
            "category": "VALIDATION_ERROR",
        }
    )

    error = HubSpotError.from_response("create_contact", 400, body, {})

    assert error.describe() == (
        "create_contact: Property values were not valid (HTTP 400, correlationId abc-123)"
    )


def test_a_non_json_gateway_page_still_gives_a_message() -> None:
    error = HubSpotError.from_response("op", 502, "<html>Bad gateway</html>", {})

    assert error.kind is ErrorKind.TRANSIENT
    assert error.message == "HTTP 502 from HubSpot"
