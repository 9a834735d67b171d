"""Hostile input: unknown members are not stored, stored JSON cannot break a reader, and
text PostgreSQL cannot hold is refused with a 4xx rather than failing as a 500."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from starlette.testclient import TestClient

from storage import people
from storage.admin import AdminAction, create_admin
from storage.storable import TOO_DEEP
from storage.submissions import get_submission
from storage.tables import Submission
from tests.web.admin.signing import csrf_of
from tests.web.leads import SPEC_LEAD

#: Deeper than json.loads and json.dumps recurse from inside a request.
DEEP = 950


def _deep_json() -> str:
    return '{"a":' * DEEP + "1" + "}" * DEEP


def test_a_deeply_nested_unknown_member_is_accepted_listed_as_ignored_and_not_stored(
    client: TestClient,
) -> None:
    body = json.dumps(SPEC_LEAD)[:-1] + ', "foo": ' + _deep_json() + "}"

    response = client.post(
        "/api/contact", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 202, response.text
    assert response.json()["data"]["ignored"] == ["foo"]
    row = asyncio.run(get_submission(response.json()["data"]["submission_id"]))
    assert row is not None and "foo" not in row.raw_fields


def test_a_row_stored_deeply_nested_before_is_read_with_its_nesting_bounded(
    postgres: str,
) -> None:
    row_id = uuid.uuid4()

    async def scenario() -> tuple[object, object]:
        await Submission.raw(
            "INSERT INTO submissions (id, form_type, email, raw_fields, contact_properties, "
            "deal_properties, summary) "
            "VALUES ({}, 'contact', 'victim@example.com', {}, {}, {}, {})",
            row_id,
            '{"foo": ' + _deep_json() + "}",
            "{}",
            "{}",
            "{}",
        )
        return await get_submission(row_id), await people.find("victim@example.com")

    row, person = asyncio.run(scenario())

    assert row.raw_fields == TOO_DEEP
    assert person.submissions[0]["raw_fields"] == TOO_DEEP
    json.dumps(person.export(), default=str)


def test_the_dashboard_shows_rows_stored_deeply_nested_before(admin: TestClient) -> None:
    row_id = uuid.uuid4()
    deep = '{"a":' * DEEP + "1" + "}" * DEEP
    [signed_in] = AdminAction.select(AdminAction.action).run_sync()
    Submission(
        id=row_id,
        form_type="contact",
        email="victim@example.com",
        raw_fields=deep,
        contact_properties=deep,
        deal_properties=deep,
        summary=deep,
    ).save().run_sync()
    AdminAction(username="ops", action=signed_in["action"], detail=deep).save().run_sync()
    token = csrf_of(admin, "/admin/people")
    form = {"csrf_token": token, "email": "victim@example.com"}

    answers = {
        "submission": admin.get(f"/admin/submissions/{row_id}"),
        "submissions": admin.get("/admin/submissions"),
        "activity": admin.get("/admin/activity"),
        "person": admin.post("/admin/people", data=form),
        "export": admin.post("/admin/people/export", data=form),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        answers, 200
    )
    assert "victim@example.com" in answers["submission"].text
    assert answers["export"].json()["submissions"][0]["raw_fields"] == TOO_DEEP


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
def test_text_postgresql_cannot_hold_is_refused_by_the_json_api(
    postgres: str, client: TestClient, text: str
) -> None:
    body = json.dumps(SPEC_LEAD | {"firstName": text})

    response = client.post(
        "/api/contact", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert "cannot be stored" in response.json()["message"]


@pytest.mark.parametrize("encoded", ["a%00b", "a%ED%A0%80b", "a%FFb"])
def test_text_postgresql_cannot_hold_is_refused_in_forms_and_sign_in(
    postgres: str, client: TestClient, encoded: str
) -> None:
    for path, field in [("/contact", "firstName"), ("/admin/login", "username")]:
        response = client.post(
            path,
            content=f"{field}={encoded}&password=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

        assert 400 <= response.status_code < 500, (path, response.status_code)


def test_a_nul_in_an_admin_filter_is_refused(postgres: str, client: TestClient) -> None:
    response = client.get("/admin/submissions?email=a%00b")

    assert 400 <= response.status_code < 500


def test_create_admin_refuses_a_name_the_database_cannot_hold(postgres: str) -> None:
    with pytest.raises(ValueError, match="cannot be stored"):
        asyncio.run(create_admin("bad\udcff", "bad@example.com", "a long enough password"))
