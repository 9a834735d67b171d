"""Batch endpoints as the product calls them: upsert by e-mail and by a unique deal
property, read by e-mail, per-input 207 errors when every input is traced, whole-batch
failure otherwise, duplicate ids and the 100-input limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals.models import (
    BatchResponseSimplePublicObjectWithErrors,
    BatchResponseSimplePublicUpsertObjectWithErrors,
)

from tests.crm.sandbox.bodies import CONTACTS_SPEC, DEAL_TO_CONTACT, DEALS_SPEC, associated

#: One batch of three leads; the middle one names a lead status HubSpot does not offer.
LEADS = (
    ("ann@example.com", {"firstname": "Ann"}),
    ("bad@example.com", {"firstname": "Bad", "hs_lead_status": "NOT_A_STATUS"}),
    ("bo@example.com", {"firstname": "Bo"}),
)
OPERATIONS = ("create", "update", "upsert")


@pytest.fixture
def submission_id(sdk) -> str:
    """The unique deal property the product's setup creates, so a deal is made once."""
    sdk.crm.properties.core_api.create(
        "deals",
        {
            "name": "submission_id",
            "label": "Submission ID",
            "type": "string",
            "fieldType": "text",
            "groupName": "dealinformation",
            "hasUniqueValue": True,
        },
    )
    return "submission_id"


def _upsert(email: str, **properties: str) -> dict:
    return {"idProperty": "email", "id": email, "properties": properties}


def _contact_batch(sdk: Any, operation: str, *, traced: int = len(LEADS)) -> tuple[Any, dict]:
    """The SDK method and body of a contacts batch ``operation`` over ``LEADS`` (an update
    names contacts created first); the first ``traced`` inputs carry a trace id."""
    if operation == "update":
        basic = sdk.crm.contacts.basic_api
        ids = {e: basic.create({"properties": {"email": e}}).id for e, _ in LEADS}
    inputs = []
    for n, (email, properties) in enumerate(LEADS):
        if operation == "create":
            item = {"properties": {"email": email, **properties}}
        elif operation == "upsert":
            item = _upsert(email, **properties)
        else:
            item = {"id": ids[email], "properties": properties}
        if n < traced:
            item["objectWriteTraceId"] = f"trace-{email}"
        inputs.append(item)
    return getattr(sdk.crm.contacts.batch_api, operation), {"inputs": inputs}


def _named(sandbox: Any) -> dict[str, str]:
    """E-mail -> first name of every contact that has one."""
    return {
        c["properties"]["email"]: c["properties"]["firstname"]
        for c in sandbox.contacts()
        if c["properties"].get("firstname")
    }


def _deal(submission: str, **properties: str) -> dict:
    """A deal create traced by its submission id, as the product sends it."""
    return {
        "properties": {"dealname": f"Lead {submission}", "submission_id": submission, **properties},
        "objectWriteTraceId": submission,
    }


# --- upsert ----------------------------------------------------------------------------------


def test_batch_upsert_by_email_creates_then_updates(sdk, wire, openapi, sandbox):
    upsert = sdk.crm.contacts.batch_api.upsert
    status, body, _ = wire(upsert, {"inputs": [_upsert("Up@Example.com", firstname="Una")]})
    assert status == 200
    openapi.check_response(
        CONTACTS_SPEC, "POST", "/crm/v3/objects/contacts/batch/upsert", 200, body
    )
    assert body["status"] == "COMPLETE"
    assert [r["new"] for r in body["results"]] == [True]
    contact_id = body["results"][0]["id"]
    assert body["results"][0]["properties"]["email"] == "up@example.com"

    again = upsert({"inputs": [_upsert("up@example.com", lastname="Ur")]})
    assert [(r.id, r.new) for r in again.results] == [(contact_id, False)]
    assert sandbox.contacts()[0]["properties"]["lastname"] == "Ur"
    assert len(sandbox.contacts()) == 1


def test_batch_upsert_by_unique_deal_property(sdk, wire, openapi, sandbox, submission_id):
    entry = {
        "idProperty": submission_id,
        "id": "sub-1",
        "properties": {"dealname": "Web lead", "dealstage": "appointmentscheduled"},
    }
    status, body, _ = wire(sdk.crm.deals.batch_api.upsert, {"inputs": [entry]})
    assert status == 200
    openapi.check_response(DEALS_SPEC, "POST", "/crm/v3/objects/deals/batch/upsert", 200, body)
    assert body["results"][0]["new"] is True
    assert body["results"][0]["properties"][submission_id] == "sub-1"

    second = sdk.crm.deals.batch_api.upsert({"inputs": [{**entry, "properties": {"amount": "99"}}]})
    assert second.results[0].new is False
    assert [d["properties"].get("amount") for d in sandbox.deals()] == ["99"]


def test_upsert_and_batch_update_need_a_unique_id_property(sdk):
    with pytest.raises(ContactsApiException) as by_name:
        sdk.crm.contacts.batch_api.upsert(
            {"inputs": [{"idProperty": "firstname", "id": "Ann", "properties": {}}]}
        )
    assert by_name.value.status == 400
    assert "non-unique 0-1 property" in json.loads(by_name.value.body)["message"]

    sdk.crm.contacts.basic_api.create({"properties": {"email": "bu@example.com"}})
    with pytest.raises(ContactsApiException) as by_email:
        sdk.crm.contacts.batch_api.update(
            {"inputs": [{"idProperty": "email", "id": "bu@example.com", "properties": {}}]}
        )
    assert (
        "Unable to perform update/upsert by non-unique 0-1 property"
        in json.loads(by_email.value.body)["message"]
    )


def test_unique_deal_property_rejects_a_second_object_with_the_value(sdk, submission_id):
    sdk.crm.deals.basic_api.create({"properties": {"dealname": "A", submission_id: "R1"}})
    with pytest.raises(DealsApiException) as caught:
        sdk.crm.deals.basic_api.create({"properties": {"dealname": "B", submission_id: "R1"}})
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert "already has that value" in body["errors"][0]["message"]


# --- traced and untraced batches -------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_one_invalid_input_of_a_traced_batch_fails_alone_and_the_others_are_written(
    sdk, wire, openapi, sandbox, operation
):
    method, body = _contact_batch(sdk, operation)
    status, answer, _ = wire(method, body)
    assert status == 207
    path = f"/crm/v3/objects/contacts/batch/{operation}"
    openapi.check_response(CONTACTS_SPEC, "POST", path, 207, answer)
    assert answer["numErrors"] == 1
    [error] = answer["errors"]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"] == {"objectWriteTraceId": ["trace-bad@example.com"]}
    assert error["errors"][0]["context"] == {"propertyName": ["hs_lead_status"]}
    assert sorted(r["objectWriteTraceId"] for r in answer["results"]) == [
        "trace-ann@example.com",
        "trace-bo@example.com",
    ]
    assert _named(sandbox) == {"ann@example.com": "Ann", "bo@example.com": "Bo"}


@pytest.mark.parametrize("traced", [0, 2], ids=["untraced", "partly traced"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_batch_not_traced_on_every_input_fails_as_a_whole_and_writes_nothing(
    sdk, sandbox, operation, traced
):
    method, body = _contact_batch(sdk, operation, traced=traced)
    with pytest.raises(ContactsApiException) as caught:
        method(body)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"
    assert _named(sandbox) == {}


@pytest.mark.parametrize("operation", ["update", "upsert"])
def test_duplicate_ids_in_one_batch_are_refused_as_a_whole_even_when_traced(
    sdk, sandbox, operation
):
    method, body = _contact_batch(sdk, operation)
    twin = {**body["inputs"][0], "objectWriteTraceId": "twin"}
    if operation == "upsert":
        twin["id"] = twin["id"].upper()  # the same contact, by e-mail in another case
    body["inputs"].append(twin)
    with pytest.raises(ContactsApiException) as caught:
        method(body)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["context"] == {"ids": [twin["id"]]}
    assert _named(sandbox) == {}


def test_of_two_traced_creates_claiming_one_unique_value_only_the_later_fails(
    sdk, wire, sandbox, submission_id
):
    inputs = [
        {**_deal("sub-1", dealstage="no-such-stage"), "objectWriteTraceId": "bad stage"},
        {**_deal("sub-1"), "objectWriteTraceId": "first"},
        {**_deal("sub-1"), "objectWriteTraceId": "second"},
    ]
    status, answer, _ = wire(sdk.crm.deals.batch_api.create, {"inputs": inputs})
    assert status == 207
    # An input that failed claims nothing, so the next one with the value still gets it.
    assert [r["objectWriteTraceId"] for r in answer["results"]] == ["first"]
    assert [e["context"]["objectWriteTraceId"] for e in answer["errors"]] == [
        ["bad stage"],
        ["second"],
    ]
    assert [d["properties"][submission_id] for d in sandbox.deals()] == ["sub-1"]


def test_a_traced_deal_batch_create_fails_only_the_deal_whose_earlier_create_landed(
    sdk, wire, openapi, sandbox, submission_id, contact_id
):
    def deal(submission: str) -> dict:
        return {**_deal(submission), "associations": [associated(contact_id, DEAL_TO_CONTACT)]}

    create = sdk.crm.deals.batch_api.create
    path = "/crm/v3/objects/deals/batch/create"
    status, landed, _ = wire(create, {"inputs": [deal("sub-1")]})
    assert status == 201
    openapi.check_response(DEALS_SPEC, "POST", path, 201, landed)

    status, answer, _ = wire(create, {"inputs": [deal("sub-1"), deal("sub-2"), deal("sub-3")]})
    assert status == 207
    openapi.check_response(DEALS_SPEC, "POST", path, 207, answer)
    [error] = answer["errors"]
    assert error["context"]["objectWriteTraceId"] == ["sub-1"]
    assert error["errors"][0]["code"] == "INVALID_UNIQUE_VALUE"
    created = {r["objectWriteTraceId"]: r["id"] for r in answer["results"]}
    assert sorted(created) == ["sub-2", "sub-3"]
    for deal_id in created.values():
        assert sandbox.associations("deals", deal_id, "contacts") == [(contact_id, 3)]

    replay = create({"inputs": [deal("sub-2"), deal("sub-3")]})
    assert isinstance(replay, BatchResponseSimplePublicObjectWithErrors)
    assert replay.results == []
    assert [e.context["objectWriteTraceId"] for e in replay.errors] == [["sub-2"], ["sub-3"]]
    assert len(sandbox.deals()) == 3


def test_a_traced_deal_batch_upsert_by_submission_id_reports_a_bad_stage_alone(
    sdk, wire, openapi, sandbox, submission_id
):
    def upsert(submission: str, stage: str) -> dict:
        return {
            "idProperty": submission_id,
            "id": submission,
            "objectWriteTraceId": submission,
            "properties": {"dealname": submission, "dealstage": stage},
        }

    upserts = sdk.crm.deals.batch_api.upsert
    upserts({"inputs": [upsert("sub-1", "appointmentscheduled")]})
    inputs = [
        upsert("sub-1", "qualifiedtobuy"),
        upsert("sub-2", "no-such-stage"),
        upsert("sub-3", "appointmentscheduled"),
    ]
    status, answer, _ = wire(upserts, {"inputs": inputs})
    assert status == 207
    openapi.check_response(DEALS_SPEC, "POST", "/crm/v3/objects/deals/batch/upsert", 207, answer)
    assert [(r["objectWriteTraceId"], r["new"]) for r in answer["results"]] == [
        ("sub-1", False),
        ("sub-3", True),
    ]
    assert answer["errors"][0]["context"]["objectWriteTraceId"] == ["sub-2"]
    stages = {d["properties"][submission_id]: d["properties"]["dealstage"] for d in sandbox.deals()}
    assert stages == {"sub-1": "qualifiedtobuy", "sub-3": "appointmentscheduled"}

    again = upserts({"inputs": [upsert("sub-2", "no-such-stage")]})
    assert isinstance(again, BatchResponseSimplePublicUpsertObjectWithErrors)
    assert again.errors[0].context["objectWriteTraceId"] == ["sub-2"]


# --- read and limits -------------------------------------------------------------------------


def test_batch_read_reports_missing_ids_as_207(sdk, wire, openapi):
    created = sdk.crm.contacts.basic_api.create({"properties": {"email": "br@example.com"}})
    status, body, _ = wire(
        sdk.crm.contacts.batch_api.read,
        {
            "inputs": [{"id": created.id}, {"id": "999999"}],
            "properties": ["email"],
            "propertiesWithHistory": [],
        },
    )
    assert status == 207
    openapi.check_response(CONTACTS_SPEC, "POST", "/crm/v3/objects/contacts/batch/read", 207, body)
    assert [r["id"] for r in body["results"]] == [created.id]
    assert body["errors"][0]["context"] == {"ids": ["999999"]}


def test_batch_read_by_email_finds_a_contact_whatever_the_case_and_lists_the_missing(
    sdk, wire, openapi
):
    created = sdk.crm.contacts.basic_api.create(
        {"properties": {"email": "reader@example.com", "firstname": "Rea"}}
    )
    body = {
        "idProperty": "email",
        "inputs": [{"id": "Reader@Example.COM"}, {"id": "gone@example.com"}],
        "properties": ["email", "firstname"],
        "propertiesWithHistory": [],
    }
    status, answer, _ = wire(sdk.crm.contacts.batch_api.read, body)
    assert status == 207
    openapi.check_response(
        CONTACTS_SPEC, "POST", "/crm/v3/objects/contacts/batch/read", 207, answer
    )
    assert [(r["id"], r["properties"]["firstname"]) for r in answer["results"]] == [
        (created.id, "Rea")
    ]
    [missing] = answer["errors"]
    assert missing["category"] == "OBJECT_NOT_FOUND"
    assert missing["context"] == {"ids": ["gone@example.com"]}
    parsed = sdk.crm.contacts.batch_api.read(body)
    assert parsed.errors[0].context == {"ids": ["gone@example.com"]}


def test_batch_over_100_inputs_is_rejected_without_writing(sdk, sandbox):
    inputs = [{"properties": {"email": f"n{i}@example.com"}} for i in range(101)]
    with pytest.raises(ContactsApiException) as caught:
        sdk.crm.contacts.batch_api.create({"inputs": inputs})
    assert caught.value.status == 400
    assert sandbox.contacts() == []
