"""Properties and pipelines: a fresh portal's definitions and how clients extend them."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.properties import ApiException as PropertiesApiException

PROPERTIES_SPEC = "crm-properties-v3.json"
STANDARD_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]


def _definition(name: str, **extra: object) -> dict:
    return {
        "name": name,
        "label": name.replace("_", " ").title(),
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
        **extra,
    }


def test_fresh_portal_has_standard_properties_only(sdk, wire, openapi):
    status, body, _ = wire(sdk.crm.properties.core_api.get_all, "contacts")
    assert status == 200
    openapi.check_response(PROPERTIES_SPEC, "GET", "/crm/v3/properties/{objectType}", 200, body)
    names = {p["name"] for p in body["results"]}
    assert {"email", "firstname", "lifecyclestage", "hs_object_id", "createdate"} <= names
    assert all(p["hubspotDefined"] for p in body["results"])
    lifecycle = next(p for p in body["results"] if p["name"] == "lifecyclestage")
    assert [o["value"] for o in lifecycle["options"]][:2] == ["subscriber", "lead"]


def test_property_create_then_duplicate_is_409(sdk, wire, openapi, sandbox):
    core = sdk.crm.properties.core_api
    status, body, _ = wire(core.create, "contacts", _definition("form_source", hasUniqueValue=True))
    assert status == 201
    openapi.check_response(PROPERTIES_SPEC, "POST", "/crm/v3/properties/{objectType}", 201, body)
    assert body["hasUniqueValue"] is True and "hubspotDefined" not in body
    assert [p["name"] for p in sandbox.custom_properties()["contacts"]] == ["form_source"]

    with pytest.raises(PropertiesApiException) as caught:
        core.create("contacts", _definition("form_source"))
    error = json.loads(caught.value.body)
    assert caught.value.status == 409
    assert error["category"] == "OBJECT_ALREADY_EXISTS"
    assert error["message"] == "Property named 'form_source' already exists."


def test_property_create_validates_type_and_field_type(sdk):
    core = sdk.crm.properties.core_api
    for bad in (
        _definition("p1", type="text"),
        _definition("p2", type="enumeration", fieldType="text"),
        {"name": "p3", "label": "P3", "type": "string"},
    ):
        with pytest.raises(PropertiesApiException) as caught:
            core.create("contacts", bad)
        assert caught.value.status == 400


def test_custom_enumeration_options_are_enforced_and_replaceable(sdk):
    core = sdk.crm.properties.core_api
    options = [{"label": "Web", "value": "web", "hidden": False, "displayOrder": 0}]
    core.create(
        "contacts", _definition("channel", type="enumeration", fieldType="select", options=options)
    )
    contacts = sdk.crm.contacts.basic_api
    contacts.create({"properties": {"email": "c1@example.com", "channel": "web"}})
    with pytest.raises(ContactsApiException) as caught:
        contacts.create({"properties": {"email": "c2@example.com", "channel": "phone"}})
    assert json.loads(caught.value.body)["errors"][0]["code"] == "INVALID_OPTION"

    core.update(
        "contacts",
        "channel",
        {"options": [*options, {"label": "Phone", "value": "phone", "hidden": False}]},
    )
    assert contacts.create({"properties": {"email": "c2@example.com", "channel": "phone"}}).id


def test_number_and_date_values_are_validated(sdk):
    core = sdk.crm.properties.core_api
    core.create("contacts", _definition("score", type="number", fieldType="number"))
    core.create("contacts", _definition("signed_on", type="date", fieldType="date"))
    contacts = sdk.crm.contacts.basic_api
    for properties, code in (
        ({"score": "ten"}, "INVALID_DECIMAL"),
        ({"signed_on": "2024-05-01T10:30:00Z"}, "INVALID_DATE"),
    ):
        with pytest.raises(ContactsApiException) as caught:
            contacts.create({"properties": {"email": "n@example.com", **properties}})
        assert json.loads(caught.value.body)["errors"][0]["code"] == code
    made = contacts.create(
        {"properties": {"email": "n@example.com", "score": "10.5", "signed_on": "1714521600000"}}
    )
    assert made.properties["signed_on"] == "2024-05-01"


def test_pipelines_list_has_the_default_sales_pipeline(sdk):
    pipelines = sdk.crm.pipelines.pipelines_api.get_all("deals").results
    default = next(p for p in pipelines if p.id == "default")
    assert default.label == "Sales Pipeline"
    assert [s.id for s in default.stages] == STANDARD_STAGES
    closed = {s.id: s.metadata for s in default.stages if s.metadata["isClosed"] == "true"}
    assert closed == {
        "closedwon": {"isClosed": "true", "probability": "1.0"},
        "closedlost": {"isClosed": "true", "probability": "0.0"},
    }
    assert all("probability" in s.metadata for s in default.stages)


def test_a_created_pipeline_makes_its_stages_valid_for_deals(sdk):
    created = sdk.crm.pipelines.pipelines_api.create(
        "deals",
        {
            "label": "Partners",
            "displayOrder": 1,
            "stages": [{"label": "New", "displayOrder": 0, "metadata": {"probability": "0.1"}}],
        },
    )
    stage = created.stages[0].id
    deals = sdk.crm.deals.basic_api
    assert deals.create(
        {"properties": {"dealname": "P", "pipeline": created.id, "dealstage": stage}}
    ).id
    with pytest.raises(DealsApiException) as caught:  # the default pipeline lacks that stage
        deals.create({"properties": {"dealname": "Q", "dealstage": stage}})
    assert caught.value.status == 400
    listed = sdk.crm.pipelines.pipeline_stages_api.get_all("deals", created.id).results
    assert [s.label for s in listed] == ["New"]
