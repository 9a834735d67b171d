"""The JSON API: 202 and a stored row for good input, clear 4xx and no row for bad input."""

from __future__ import annotations

import asyncio

import pytest

from storage.submissions import get_submission
from storage.tables import Submission
from tests.web.leads import SPEC_LEAD, wait_for_status

FORM = SPEC_LEAD | {"projectDetails": "Looking for AI solutions"}
JSON_HEADERS = {"content-type": "application/json"}


def _rows() -> int:
    return Submission.count().run_sync()


def test_a_valid_contact_is_accepted_stored_and_synced(client, sandbox) -> None:
    response = client.post("/api/contact", json=FORM)

    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["errors"] == {}
    row = wait_for_status(body["data"]["submission_id"], "synced")
    assert row.hubspot_contact_id == sandbox.contacts()[0]["id"]
    assert row.hubspot_deal_id == sandbox.deals()[0]["id"]


def test_demo_and_quote_requests_are_accepted_too(client, sandbox) -> None:
    demo = client.post("/api/demo-request", json=FORM | {"preferredDate": "2031-05-01"})
    quote = client.post("/api/quote-request", json=FORM | {"budget": "10k_50k"})

    assert (demo.status_code, quote.status_code) == (202, 202)


def test_field_errors_are_reported_per_field_and_nothing_is_saved(client) -> None:
    response = client.post(
        "/api/contact",
        json=FORM | {"email": "jane@", "phone": "+1 (555) 123-4567", "country": "Narnia"},
    )

    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert set(body["errors"]) == {"email", "phone", "country"}
    assert _rows() == 0


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"content": b"[1, 2]", "headers": {"content-type": "application/json"}}, 422),
        ({"data": {"email": "a@b.co"}}, 415),
        (
            {
                "content": b'{"email": "' + b"a" * 70_000 + b'"}',
                "headers": {"content-type": "application/json"},
            },
            413,
        ),
    ],
)
def test_bad_bodies_get_a_clear_4xx_in_the_envelope(client, kwargs, status) -> None:
    response = client.post("/api/contact", **kwargs)

    assert response.status_code == status
    assert response.json()["success"] is False
    assert response.json()["message"]
    assert _rows() == 0


def test_health_answers(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_visitor_gets_the_same_answer_when_the_broker_is_down(client, monkeypatch) -> None:
    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("actors.sync.sync_submission.send", broker_down)

    response = client.post("/api/contact", json=FORM)

    assert response.status_code == 202
    assert response.json()["message"] == client.post("/api/contact", json=FORM).json()["message"]
    row = asyncio.run(get_submission(response.json()["data"]["submission_id"]))
    assert row.status == "pending"


def test_the_api_answers_only_post_and_says_so(client) -> None:
    response = client.get("/api/contact")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["success"] is False


def test_json_nested_past_parsing_is_malformed_not_a_crash(client) -> None:
    body = b"[" * 30_000 + b"]" * 30_000

    response = client.post("/api/contact", content=body, headers=JSON_HEADERS)

    assert response.status_code in (400, 422)
    assert _rows() == 0


def test_values_of_the_wrong_json_type_are_reported_per_field(client) -> None:
    posted = FORM | {
        "email": 42,
        "firstName": True,
        "company": {"name": "Tech"},
        "serviceInterests": [["Data Preparation"]],
        "phone": 4420794609,
        "marketingConsent": 1,
        "lastName": "",
    }

    response = client.post("/api/contact", json=posted)

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "email": "Work e-mail must be text.",
        "firstName": "First name must be text.",
        "company": "Company must be text.",
        "serviceInterests": "Choose one or more of the listed options.",
        "phone": "Phone must be text.",
        "marketingConsent": "Marketing e-mails must be true or false.",
        "lastName": "Last name is required.",
    }
    assert _rows() == 0


def test_text_longer_than_the_field_takes_is_refused_even_if_blank(client) -> None:
    response = client.post("/api/contact", json=FORM | {"jobTitle": " " * 201})

    assert response.status_code == 422
    assert response.json()["errors"] == {"jobTitle": "Job title must be at most 200 characters."}


def test_alias_spellings_and_null_fields_are_accepted(client) -> None:
    posted = {key: value for key, value in FORM.items() if key != "serviceInterests"} | {
        "serviceInterest": "data_annotation, Data Collection",
        "projectDescription": "Label images",
        "projectDetails": None,
        "jobTitle": None,
        "marketingConsent": False,
    }

    response = client.post("/api/contact", json=posted)

    assert response.status_code == 202
    row = asyncio.run(get_submission(response.json()["data"]["submission_id"]))
    assert row.contact_properties["service_interest"] == "data_annotation;data_collection"
    assert row.contact_properties["project_description"] == "Label images"
    assert "jobtitle" not in row.contact_properties


def test_markup_and_formulas_never_reach_the_crm(client) -> None:
    posted = FORM | {
        "firstName": "<script>alert(1)</script>jane",
        "company": '=HYPERLINK("http://evil.example","Click")',
        "jobTitle": "@SUM(A1:A9)",
        "projectDetails": "<b>Bold</b> plans <img src=x onerror=alert(1)>",
        "referralSource": "+-=cmd|' /C calc'!A0",
    }

    response = client.post("/api/contact", json=posted)

    assert response.status_code == 202
    row = asyncio.run(get_submission(response.json()["data"]["submission_id"]))
    stored = row.contact_properties
    assert stored["firstname"] == "Jane"
    assert stored["project_description"] == "Bold plans"
    for value in stored.values():
        assert "<" not in value and ">" not in value
        assert not value.startswith(("=", "+", "-", "@"))


def test_a_field_that_is_only_markup_is_refused(client) -> None:
    response = client.post("/api/contact", json=FORM | {"company": "<b></b>"})

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"company"}
    assert _rows() == 0


def test_protection_fields_are_not_stored_with_the_submission(client) -> None:
    response = client.post("/api/contact", json=FORM | {"website": "", "recaptchaToken": "t"})

    row = asyncio.run(get_submission(response.json()["data"]["submission_id"]))
    assert row.raw_fields == FORM
