"""Contacts through the official SDK: CRUD, e-mail identity, conflicts, validation."""

from __future__ import annotations

import json
import re

import pytest
from hubspot.crm.contacts import ApiException
from hubspot.crm.contacts.exceptions import NotFoundException

from tests.crm.sandbox.bodies import CONTACTS_SPEC


def _create(sdk, **properties):
    return sdk.crm.contacts.basic_api.create({"properties": properties})


def _error(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_contact_create_answers_201_with_simple_public_object(sdk, wire, openapi):
    status, body, headers = wire(
        sdk.crm.contacts.basic_api.create,
        {"properties": {"email": "Jane.Doe@Example.com", "firstname": "Jane"}},
    )
    assert status == 201
    openapi.check_response(CONTACTS_SPEC, "POST", "/crm/v3/objects/contacts", 201, body)
    assert body["properties"]["email"] == "jane.doe@example.com"  # stored lower-case
    assert body["properties"]["hs_object_id"] == body["id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["createdAt"])
    assert {"createdate", "lastmodifieddate"} <= body["properties"].keys()
    assert body["archived"] is False
    assert headers["X-HubSpot-Correlation-Id"]


def test_contact_get_update_and_get_by_email(sdk, wire, openapi, sandbox):
    created = _create(sdk, email="ann@example.com", firstname="Ann")
    api = sdk.crm.contacts.basic_api

    status, body, _ = wire(api.get_by_id, created.id, properties=["email", "firstname", "phone"])
    assert status == 200
    openapi.check_response(CONTACTS_SPEC, "GET", "/crm/v3/objects/contacts/{contactId}", 200, body)
    assert body["properties"]["phone"] is None  # requested but unset: null, like HubSpot

    updated = api.update(
        "ANN@example.com", {"properties": {"lastname": "Lee"}}, id_property="email"
    )
    assert updated.id == created.id
    assert updated.properties["lastname"] == "Lee"

    by_email = api.get_by_id("ann@example.com", id_property="email", properties=["lastname"])
    assert by_email.id == created.id
    assert by_email.properties["lastname"] == "Lee"
    assert sandbox.contacts()[0]["properties"]["lastname"] == "Lee"


def test_empty_string_clears_a_property(sdk):
    created = _create(sdk, email="clear@example.com", company="Acme")
    api = sdk.crm.contacts.basic_api
    api.update(created.id, {"properties": {"company": ""}})
    assert api.get_by_id(created.id, properties=["company"]).properties["company"] is None


def test_duplicate_email_case_insensitive_is_409_with_existing_id(sdk, openapi):
    first = _create(sdk, email="dup@example.com")
    with pytest.raises(ApiException) as caught:
        _create(sdk, email="DUP@Example.COM")
    assert caught.value.status == 409
    body = _error(caught.value)
    openapi.check_schema(CONTACTS_SPEC, "Error", body)
    assert body["status"] == "error"
    assert body["category"] == "CONFLICT"
    assert int(re.search(r"Existing ID:\s*(\d+)", body["message"]).group(1)) == int(first.id)
    assert body["errors"] == [
        {
            "message": (
                f"A contact with email dup@example.com already exists. Existing ID: {first.id}"
            ),
            "in": "email",
        }
    ]
    assert caught.value.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_update_to_another_contacts_email_is_409(sdk):
    first = _create(sdk, email="one@example.com")
    second = _create(sdk, email="two@example.com")
    with pytest.raises(ApiException) as caught:
        sdk.crm.contacts.basic_api.update(second.id, {"properties": {"email": "ONE@example.com"}})
    assert caught.value.status == 409
    assert f"Existing ID: {first.id}" in _error(caught.value)["message"]


def test_unknown_property_is_400_property_doesnt_exist(sdk, sandbox):
    with pytest.raises(ApiException) as caught:
        _create(sdk, email="x@example.com", foo="bar")
    body = _error(caught.value)
    assert caught.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"] == (
        'Property values were not valid: [{"isValid":false,"message":"Property \\"foo\\" does '
        'not exist","error":"PROPERTY_DOESNT_EXIST","name":"foo"}]'
    )
    assert body["errors"] == [
        {
            "message": 'Property "foo" does not exist',
            "code": "PROPERTY_DOESNT_EXIST",
            "context": {"propertyName": ["foo"]},
        }
    ]
    assert sandbox.contacts() == []  # nothing written


def test_enumeration_value_outside_options_is_invalid_option(sdk):
    with pytest.raises(ApiException) as caught:
        _create(sdk, email="lc@example.com", lifecyclestage="prospect")
    body = _error(caught.value)
    assert caught.value.status == 400
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    assert body["errors"][0]["context"] == {"propertyName": ["lifecyclestage"]}
    assert _create(sdk, email="lc@example.com", lifecyclestage="lead").id


def test_invalid_email_and_read_only_property_are_rejected(sdk):
    with pytest.raises(ApiException) as bad_email:
        _create(sdk, email="not-an-email")
    assert _error(bad_email.value)["errors"][0]["code"] == "INVALID_EMAIL"
    with pytest.raises(ApiException) as read_only:
        _create(sdk, email="ro@example.com", hs_object_id="5")
    assert _error(read_only.value)["errors"][0]["code"] == "READ_ONLY_VALUE"


def test_archived_contact_is_gone_for_get(sdk):
    created = _create(sdk, email="bye@example.com")
    api = sdk.crm.contacts.basic_api
    api.archive(created.id)
    with pytest.raises(NotFoundException) as caught:
        api.get_by_id(created.id)
    assert _error(caught.value)["category"] == "OBJECT_NOT_FOUND"
    assert api.get_by_id(created.id, archived=True).archived is True


def test_gdpr_delete_removes_contact_and_its_associations(sdk, sandbox):
    contact = _create(sdk, email="gdpr@example.com")
    deal = sdk.crm.deals.basic_api.create(
        {
            "properties": {"dealname": "D", "dealstage": "appointmentscheduled"},
            "associations": [
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                }
            ],
        }
    )
    assert sandbox.associations("deals", deal.id, "contacts") == [(contact.id, 3)]

    sdk.crm.contacts.basic_api.purge({"objectId": "GDPR@example.com", "idProperty": "email"})

    assert sandbox.contacts() == []
    assert sandbox.associations("deals", deal.id, "contacts") == []
    with pytest.raises(NotFoundException):
        sdk.crm.contacts.basic_api.get_by_id(contact.id, archived=True)
