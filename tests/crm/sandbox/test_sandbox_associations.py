"""Deals, notes and v4 associations: type ids per direction, both directions stored."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.objects.notes import ApiException as NotesApiException

from tests.crm.sandbox.bodies import (
    ASSOC_SPEC,
    DEALS_SPEC,
    NOTE_TO_CONTACT,
    NOTE_TO_DEAL,
    NOTES_SPEC,
    associated,
    association_type,
)

LABELS_SPEC = "crm-associations-schema-v4.legacy-crm-v4-path.json"
BATCH_PATH = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch"


def test_deal_created_with_inline_association_3_is_visible_both_ways(
    sdk, wire, openapi, sandbox, contact_id
):
    status, deal, _ = wire(
        sdk.crm.deals.basic_api.create,
        {
            "properties": {"dealname": "Quote", "dealstage": "qualifiedtobuy", "amount": "1500"},
            "associations": [{"to": {"id": contact_id}, "types": [association_type(3)]}],
        },
    )
    assert status == 201
    openapi.check_response(DEALS_SPEC, "POST", "/crm/v3/objects/deals", 201, deal)
    assert deal["properties"]["pipeline"] == "default"

    path = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}"
    get_page = sdk.crm.associations.v4.basic_api.get_page
    status, from_contact, _ = wire(get_page, "contacts", contact_id, "deals")
    assert status == 200
    openapi.check_response(ASSOC_SPEC, "GET", path, 200, from_contact)
    assert from_contact["results"] == [
        {
            "toObjectId": int(deal["id"]),
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}],
        }
    ]
    from_deal = get_page("deal", deal["id"], "0-1")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in from_deal.results] == [
        (contact_id, 3)
    ]
    assert sandbox.associations("contacts", contact_id, "deals") == [(deal["id"], 4)]

    read = sdk.crm.deals.basic_api.get_by_id(deal["id"], associations=["contacts"])
    assert [(a.id, a.type) for a in read.associations["contacts"].results] == [
        (contact_id, "deal_to_contact")
    ]


def test_inline_association_with_wrong_type_id_or_missing_target_is_400(sdk, sandbox, contact_id):
    deals = sdk.crm.deals.basic_api
    for associations in (
        [
            {"to": {"id": contact_id}, "types": [association_type(4)]}
        ],  # contact→deal, not deal→contact
        [{"to": {"id": "987654"}, "types": [association_type(3)]}],
    ):
        with pytest.raises(DealsApiException) as caught:
            deals.create({"properties": {"dealname": "X"}, "associations": associations})
        assert caught.value.status == 400
        assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"
    assert sandbox.deals() == []


def test_deal_stage_must_belong_to_the_pipeline(sdk):
    with pytest.raises(DealsApiException) as caught:
        sdk.crm.deals.basic_api.create({"properties": {"dealname": "X", "dealstage": "won"}})
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    assert body["errors"][0]["context"] == {"propertyName": ["dealstage"]}


def test_default_association_put_answers_both_directions(sdk, wire, openapi, sandbox, contact_id):
    deal = sdk.crm.deals.basic_api.create({"properties": {"dealname": "D"}})
    status, body, _ = wire(
        sdk.crm.associations.v4.basic_api.create_default, "deals", deal.id, "contacts", contact_id
    )
    assert status == 200
    path = (
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}"
        "/associations/default/{toObjectType}/{toObjectId}"
    )
    openapi.check_response(ASSOC_SPEC, "PUT", path, 200, body)
    assert body["status"] == "COMPLETE"
    assert [
        (r["from"]["id"], r["to"]["id"], r["associationSpec"]["associationTypeId"])
        for r in body["results"]
    ] == [(deal.id, contact_id, 3), (contact_id, deal.id, 4)]
    assert all(
        r["associationSpec"]["associationCategory"] == "HUBSPOT_DEFINED" for r in body["results"]
    )
    assert sandbox.associations("deal", deal.id, "contact") == [(contact_id, 3)]


def test_labelled_put_answers_201_and_delete_removes_both_directions(
    sdk, wire, openapi, sandbox, contact_id
):
    note = sdk.crm.objects.notes.basic_api.create(
        {"properties": {"hs_timestamp": "2024-05-01T12:00:00Z", "hs_note_body": "hi"}}
    )
    api = sdk.crm.associations.v4.basic_api
    status, body, _ = wire(
        api.create, "notes", note.id, "contacts", contact_id, [association_type(202)]
    )
    assert status == 201
    path = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}"
    openapi.check_response(ASSOC_SPEC, "PUT", path, 201, body)
    assert (body["fromObjectTypeId"], body["toObjectTypeId"]) == ("0-46", "0-1")
    assert sandbox.associations("contacts", contact_id, "notes") == [(note.id, 201)]

    with pytest.raises(AssociationsApiException) as wrong:
        api.create(
            "notes", note.id, "contacts", contact_id, [association_type(214)]
        )  # note→deal id
    assert wrong.value.status == 400

    api.archive("contacts", contact_id, "notes", note.id)
    assert sandbox.associations("notes", note.id, "contacts") == []


def test_note_requires_hs_timestamp(sdk, sandbox):
    with pytest.raises(NotesApiException) as caught:
        sdk.crm.objects.notes.basic_api.create({"properties": {"hs_note_body": "no time"}})
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert body["context"] == {"properties": ["hs_timestamp"]}
    assert sandbox.notes() == []


def test_note_with_timestamp_and_associations_202_214(sdk, sandbox, contact_id):
    deal = sdk.crm.deals.basic_api.create({"properties": {"dealname": "D"}})
    note = sdk.crm.objects.notes.basic_api.create(
        {
            "properties": {"hs_timestamp": "1714564800000", "hs_note_body": "File uploaded"},
            "associations": [
                {"to": {"id": contact_id}, "types": [association_type(202)]},
                {"to": {"id": deal.id}, "types": [association_type(214)]},
            ],
        }
    )
    assert note.properties["hs_timestamp"] == "2024-05-01T12:00:00.000Z"
    assert sandbox.associations("notes", note.id, "contacts") == [(contact_id, 202)]
    assert sandbox.associations("deals", deal.id, "notes") == [(note.id, 213)]


def test_batch_associate_default_answers_the_pair_both_ways_and_batch_read_sees_it(
    sdk, wire, openapi, contact_id
):
    deal = sdk.crm.deals.basic_api.create({"properties": {"dealname": "D"}})
    batch = sdk.crm.associations.v4.batch_api
    pair = {"inputs": [{"from": {"id": deal.id}, "to": {"id": contact_id}}]}
    status, body, _ = wire(batch.create_default, "deal", "contact", pair)
    assert status == 200
    openapi.check_response(ASSOC_SPEC, "POST", BATCH_PATH + "/associate/default", 200, body)
    assert [
        (r["from"]["id"], r["to"]["id"], r["associationSpec"]["associationTypeId"])
        for r in body["results"]
    ] == [(deal.id, contact_id, 3), (contact_id, deal.id, 4)]

    status, body, _ = wire(batch.get_page, "contacts", "deals", {"inputs": [{"id": contact_id}]})
    assert status == 200
    openapi.check_response(ASSOC_SPEC, "POST", BATCH_PATH + "/read", 200, body)
    assert body["results"][0]["to"][0]["toObjectId"] == int(deal.id)


def test_v4_batch_read_lists_notes_created_inline_and_a_207_error_for_a_deal_without_any(
    sdk, wire, openapi, contact_id
):
    deals = sdk.crm.deals.batch_api.create(
        {"inputs": [{"properties": {"dealname": name}} for name in ("With note", "Without")]}
    )
    with_note, without = (d.id for d in deals.results)
    note = {
        "properties": {"hs_timestamp": "2024-05-01T12:00:00Z", "hs_note_body": "Form sent"},
        "associations": [
            associated(contact_id, NOTE_TO_CONTACT),
            associated(with_note, NOTE_TO_DEAL),
        ],
        "objectWriteTraceId": "sub-1",
    }
    notes = sdk.crm.objects.notes.batch_api
    status, created, _ = wire(notes.create, {"inputs": [note]})
    assert status == 201
    openapi.check_response(NOTES_SPEC, "POST", "/crm/v3/objects/notes/batch/create", 201, created)
    note_id = created["results"][0]["id"]

    batch = sdk.crm.associations.v4.batch_api
    both = {"inputs": [{"id": with_note}, {"id": without}]}
    status, found, _ = wire(batch.get_page, "deal", "note", both)
    assert status == 207
    openapi.check_response(ASSOC_SPEC, "POST", BATCH_PATH + "/read", 207, found)
    assert found["results"] == [
        {
            "from": {"id": with_note},
            "to": [
                {
                    "toObjectId": int(note_id),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 213, "label": None}
                    ],
                }
            ],
        }
    ]
    [none] = found["errors"]
    assert none["category"] == "OBJECT_NOT_FOUND"
    assert none["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert none["context"] == {
        "fromObjectId": [without],
        "fromObjectType": ["deal"],
        "toObjectType": ["note"],
    }
    parsed = batch.get_page("deal", "note", both)
    assert [t.to_object_id for t in parsed.results[0].to] == [note_id]
    assert parsed.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"

    read = {"inputs": [{"id": note_id}], "properties": ["hs_note_body", "hs_timestamp"]}
    status, body, _ = wire(notes.read, {**read, "propertiesWithHistory": []})
    assert status == 200
    openapi.check_response(NOTES_SPEC, "POST", "/crm/v3/objects/notes/batch/read", 200, body)
    assert body["results"][0]["properties"]["hs_note_body"] == "Form sent"
    assert body["results"][0]["properties"]["hs_timestamp"] == "2024-05-01T12:00:00.000Z"


def test_association_labels_list_hubspot_defined_types(sdk, wire, openapi):
    labels = sdk.crm.associations.v4.schema.definitions_api
    status, body, _ = wire(labels.get_all, "deals", "contacts")
    assert status == 200
    openapi.check_response(
        LABELS_SPEC, "GET", "/crm/v4/associations/{fromObjectType}/{toObjectType}/labels", 200, body
    )
    assert {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None} in body["results"]


def test_a_created_label_becomes_a_valid_user_defined_type(sdk, sandbox, contact_id):
    labels = sdk.crm.associations.v4.schema.definitions_api
    created = labels.create("deals", "contacts", {"label": "Decision maker", "name": "decider"})
    type_id = next(r.type_id for r in created.results if r.label == "Decision maker")
    deal = sdk.crm.deals.basic_api.create({"properties": {"dealname": "L"}})
    pair = sdk.crm.associations.v4.basic_api.create(
        "deals",
        deal.id,
        "contacts",
        contact_id,
        [{"associationCategory": "USER_DEFINED", "associationTypeId": type_id}],
    )
    assert pair.labels == ["Decision maker"]
    found = sdk.crm.associations.v4.basic_api.get_page("deals", deal.id, "contacts").results
    assert [(t.category, t.label) for t in found[0].association_types] == [
        ("USER_DEFINED", "Decision maker")
    ]
    assert sandbox.associations("contacts", contact_id, "deals") == [(deal.id, type_id + 1)]
