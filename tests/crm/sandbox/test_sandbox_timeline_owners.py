"""Timeline events (templates via developer key, events via token) and owners."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.timeline import ApiException as TimelineApiException

from tests.crm.sandbox.bodies import TIMELINE_SPEC

OWNERS_SPEC = "crm-owners-v3.json"
APP_ID = 424242
TIMELINE_BATCH = "/integrators/timeline/v3/events/batch/create"


@pytest.fixture
def template_id(sdk) -> str:
    template = sdk.crm.timeline.templates_api.create(
        APP_ID,
        {
            "name": "File upload",
            "objectType": "contacts",
            "headerTemplate": "Uploaded {{fileName}}",
            "tokens": [{"name": "fileName", "label": "File name", "type": "string", "options": []}],
        },
    )
    return template.id


def test_timeline_event_for_a_contact_email(sdk, wire, openapi, sandbox, template_id):
    contact = sdk.crm.contacts.basic_api.create({"properties": {"email": "tl@example.com"}})
    status, body, _ = wire(
        sdk.crm.timeline.events_api.create,
        {
            "eventTemplateId": template_id,
            "email": "TL@example.com",
            "tokens": {"fileName": "a.pdf"},
        },
    )
    assert status == 201
    openapi.check_response(TIMELINE_SPEC, "POST", "/integrators/timeline/v3/events", 201, body)
    assert body["objectId"] == contact.id and body["objectType"] == "contacts"
    fetched = sdk.crm.timeline.events_api.get_by_id(template_id, body["id"])
    assert fetched.tokens == {"fileName": "a.pdf"}


def test_timeline_event_rejects_unknown_template_and_token(sdk, template_id):
    events = sdk.crm.timeline.events_api
    with pytest.raises(TimelineApiException) as unknown_template:
        events.create({"eventTemplateId": "1", "email": "x@example.com", "tokens": {}})
    assert unknown_template.value.status == 404
    with pytest.raises(TimelineApiException) as unknown_token:
        events.create(
            {"eventTemplateId": template_id, "email": "x@example.com", "tokens": {"nope": "1"}}
        )
    assert unknown_token.value.status == 400
    assert json.loads(unknown_token.value.body)["category"] == "VALIDATION_ERROR"


def test_timeline_batch_create_answers_201_or_a_207_naming_the_bad_event(
    sdk, wire, openapi, sandbox, template_id
):
    create_batch = sdk.crm.timeline.events_api.create_batch
    good = {"eventTemplateId": template_id, "email": "tl@example.com", "tokens": {"fileName": "a"}}
    status, body, _ = wire(create_batch, {"inputs": [good]})
    assert status == 201
    openapi.check_response(TIMELINE_SPEC, "POST", TIMELINE_BATCH, 201, body)

    unknown_token = {**good, "tokens": {"nope": "1"}}
    status, body, _ = wire(create_batch, {"inputs": [good, unknown_token]})
    assert status == 207
    openapi.check_response(TIMELINE_SPEC, "POST", TIMELINE_BATCH, 207, body)
    assert (len(body["results"]), body["numErrors"]) == (1, 1)
    assert body["errors"][0]["category"] == "VALIDATION_ERROR"
    assert len(sandbox.events) == 2


def test_templates_need_the_developer_key(http):
    path = f"/integrators/timeline/v3/{APP_ID}/event-templates"
    assert http.get(path).status_code == 401  # a Bearer token is not a developer key
    assert http.get(path, params={"hapikey": "dev-key"}).status_code == 200


def test_owners_list_with_trailing_slash_and_by_id(sdk, wire, openapi):
    owners = sdk.crm.owners.owners_api
    status, body, _ = wire(owners.get_page)
    assert status == 200
    openapi.check_response(OWNERS_SPEC, "GET", "/crm/v3/owners", 200, body)
    first = body["results"][0]
    assert owners.get_by_id(first["id"]).email == first["email"]
    assert [o.id for o in owners.get_page(email=first["email"]).results] == [first["id"]]


def test_owner_id_must_be_a_real_owner(sdk):
    owner = sdk.crm.owners.owners_api.get_page().results[0]
    contacts = sdk.crm.contacts.basic_api
    assert contacts.create(
        {"properties": {"email": "o@example.com", "hubspot_owner_id": owner.id}}
    ).id
    with pytest.raises(ContactsApiException) as caught:
        contacts.create({"properties": {"email": "p@example.com", "hubspot_owner_id": "1"}})
    assert json.loads(caught.value.body)["errors"][0]["code"] == "INVALID_OPTION"
