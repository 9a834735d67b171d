"""The HTTP surface below the SDK: auth, error bodies, correlation ids, unknown routes."""

from __future__ import annotations

import uuid

import pytest
from hubspot.crm.contacts.exceptions import UnauthorizedException

from tests.crm.sandbox.bodies import CONTACTS_SPEC


def _is_uuid4(value: str) -> bool:
    return uuid.UUID(value).version == 4


def test_missing_token_is_401_with_hubspot_body(http, openapi):
    response = http.get("/crm/v3/objects/contacts", headers={"Authorization": ""})
    assert response.status_code == 401
    body = response.json()
    openapi.check_schema(CONTACTS_SPEC, "Error", body)
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    assert _is_uuid4(body["correlationId"])
    assert response.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_wrong_token_through_the_sdk_is_unauthorized(server, sdk_for, sandbox):
    client = sdk_for(server.url, access_token="pat-na1-wrong")
    with pytest.raises(UnauthorizedException) as caught:
        client.crm.contacts.basic_api.create({"properties": {"email": "x@example.com"}})
    assert caught.value.status == 401
    assert sandbox.contacts() == []
    assert sandbox.request_log[-1][:3] == ("POST", "/crm/v3/objects/contacts", 401)


def test_every_answer_carries_a_fresh_correlation_id(http):
    first = http.get("/crm/v3/objects/contacts")
    second = http.get("/crm/v3/objects/contacts")
    ids = {first.headers["X-HubSpot-Correlation-Id"], second.headers["X-HubSpot-Correlation-Id"]}
    assert len(ids) == 2 and all(_is_uuid4(i) for i in ids)
    assert first.headers["X-HubSpot-RateLimit-Remaining"]


def test_unknown_route_is_404_in_hubspot_shape(http):
    response = http.get("/crm/v3/objects/contacts/1/nothing-here")
    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert response.json()["category"] == "OBJECT_NOT_FOUND"
    assert response.headers["X-HubSpot-Correlation-Id"] == response.json()["correlationId"]


def test_unknown_object_type_is_400(http):
    response = http.post("/crm/v3/objects/widgets", json={"properties": {}})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_malformed_json_is_400_invalid_input(http, sandbox):
    response = http.post(
        "/crm/v3/objects/contacts",
        content=b'{"properties": {"email": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Invalid input JSON")
    assert sandbox.contacts() == []


def test_request_log_records_method_path_status_and_time(http, sandbox, clock):
    http.get("/crm/v3/objects/deals/424242")
    assert sandbox.request_log == [("GET", "/crm/v3/objects/deals/424242", 404, clock.now)]


def test_generic_objects_api_accepts_type_ids(sdk, sandbox):
    made = sdk.crm.objects.basic_api.create("0-1", {"properties": {"email": "gen@example.com"}})
    assert sdk.crm.objects.basic_api.get_by_id("contacts", made.id).id == made.id
    assert sandbox.contacts()[0]["id"] == made.id
