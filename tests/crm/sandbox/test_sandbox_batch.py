"""Batch endpoints: upsert by e-mail and by a unique deal property, read, limits."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.deals import ApiException as DealsApiException

CONTACTS_SPEC = "crm-contacts-v3.json"
DEALS_SPEC = "crm-deals-v3.2025-08-01-named-path.json"


def _upsert(email: str, **properties: str) -> dict:
    return {"idProperty": "email", "id": email, "properties": properties}


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


def test_batch_upsert_by_unique_deal_property(sdk, wire, openapi, sandbox):
    sdk.crm.properties.core_api.create(
        "deals",
        {
            "name": "external_submission_id",
            "label": "External submission ID",
            "type": "string",
            "fieldType": "text",
            "groupName": "dealinformation",
            "hasUniqueValue": True,
        },
    )
    entry = {
        "idProperty": "external_submission_id",
        "id": "sub-1",
        "properties": {"dealname": "Web lead", "dealstage": "appointmentscheduled"},
    }
    status, body, _ = wire(sdk.crm.deals.batch_api.upsert, {"inputs": [entry]})
    assert status == 200
    openapi.check_response(DEALS_SPEC, "POST", "/crm/v3/objects/deals/batch/upsert", 200, body)
    assert body["results"][0]["new"] is True
    assert body["results"][0]["properties"]["external_submission_id"] == "sub-1"

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


def test_unique_deal_property_rejects_a_second_object_with_the_value(sdk):
    sdk.crm.properties.core_api.create(
        "deals",
        {
            "name": "order_ref",
            "label": "Order ref",
            "type": "string",
            "fieldType": "text",
            "groupName": "dealinformation",
            "hasUniqueValue": True,
        },
    )
    sdk.crm.deals.basic_api.create({"properties": {"dealname": "A", "order_ref": "R1"}})
    with pytest.raises(DealsApiException) as caught:
        sdk.crm.deals.basic_api.create({"properties": {"dealname": "B", "order_ref": "R1"}})
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert "already has that value" in body["errors"][0]["message"]


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


def test_batch_over_100_inputs_is_rejected_without_writing(sdk, sandbox):
    inputs = [{"properties": {"email": f"n{i}@example.com"}} for i in range(101)]
    with pytest.raises(ContactsApiException) as caught:
        sdk.crm.contacts.batch_api.create({"inputs": inputs})
    assert caught.value.status == 400
    assert sandbox.contacts() == []


def test_batch_create_with_one_bad_input_writes_nothing(sdk, sandbox):
    inputs = [{"properties": {"email": "ok@example.com"}}, {"properties": {"nope": "x"}}]
    with pytest.raises(ContactsApiException):
        sdk.crm.contacts.batch_api.create({"inputs": inputs})
    assert sandbox.contacts() == []
