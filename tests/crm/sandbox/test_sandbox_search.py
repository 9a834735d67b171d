"""CRM search: HubSpot's index lag, filter operators, paging and limits."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException

from tests.crm.sandbox.bodies import CONTACTS_SPEC

LAG = 2.0  # the sandbox default search_lag_s


def _by_email(email: str) -> dict:
    return {
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}]
    }


def test_search_misses_a_new_contact_until_the_index_catches_up(sdk, clock):
    search = sdk.crm.contacts.search_api.do_search
    created = sdk.crm.contacts.basic_api.create({"properties": {"email": "lag@example.com"}})

    assert search(_by_email("lag@example.com")).total == 0
    # Reads by id are strongly consistent meanwhile.
    assert sdk.crm.contacts.basic_api.get_by_id(created.id).id == created.id

    clock.advance(LAG - 0.1)
    assert search(_by_email("lag@example.com")).total == 0
    clock.advance(0.2)
    found = search(_by_email("lag@example.com"))
    assert [r.id for r in found.results] == [created.id]


def test_search_shows_old_values_until_an_update_is_indexed(sdk, clock):
    api, search = sdk.crm.contacts.basic_api, sdk.crm.contacts.search_api.do_search
    created = api.create({"properties": {"email": "old@example.com", "firstname": "Old"}})
    clock.advance(LAG)
    api.update(created.id, {"properties": {"firstname": "New"}})

    request = {**_by_email("old@example.com"), "properties": ["firstname"]}
    assert search(request).results[0].properties["firstname"] == "Old"
    clock.advance(LAG)
    assert search(request).results[0].properties["firstname"] == "New"


def test_search_answer_matches_the_spec_and_has_no_rate_limit_headers(sdk, wire, openapi, clock):
    sdk.crm.contacts.basic_api.create({"properties": {"email": "shape@example.com"}})
    clock.advance(LAG)
    status, body, headers = wire(
        sdk.crm.contacts.search_api.do_search, _by_email("shape@example.com")
    )
    assert status == 200
    openapi.check_response(CONTACTS_SPEC, "POST", "/crm/v3/objects/contacts/search", 200, body)
    assert body["total"] == 1
    assert "X-HubSpot-RateLimit-Remaining" not in headers
    assert headers["X-HubSpot-Correlation-Id"]


def test_search_operators_sorting_and_paging(sdk, clock):
    api = sdk.crm.contacts.basic_api
    for n, (first, stage) in enumerate([("Ann", "lead"), ("Bob", "customer"), ("Cy", None)]):
        properties = {"email": f"p{n}@corp.example", "firstname": first}
        if stage:
            properties["lifecyclestage"] = stage
        api.create({"properties": properties})
    clock.advance(LAG)

    def search(request):
        clock.advance(0.25)  # stay under the 5-per-second search limit
        return sdk.crm.contacts.search_api.do_search(request)

    def emails(*filters, **extra):
        answer = search({"filterGroups": [{"filters": list(filters)}], **extra})
        return [r.properties["email"] for r in answer.results]

    assert emails(
        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["lead", "customer"]}
    ) == [
        "p0@corp.example",
        "p1@corp.example",
    ]
    assert emails({"propertyName": "lifecyclestage", "operator": "NOT_HAS_PROPERTY"}) == [
        "p2@corp.example"
    ]
    assert emails(
        {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@corp.example"}
    ) == [
        "p0@corp.example",
        "p1@corp.example",
        "p2@corp.example",
    ]
    assert emails(
        {"propertyName": "firstname", "operator": "NEQ", "value": "bob"},
        sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}],
    ) == ["p2@corp.example", "p0@corp.example"]

    first_page = search(
        {"limit": 2, "sorts": [{"propertyName": "email", "direction": "ASCENDING"}]}
    )
    assert first_page.total == 3 and len(first_page.results) == 2
    rest = search({"limit": 2, "after": first_page.paging.next.after})
    assert len(rest.results) == 1 and rest.paging is None


def test_search_limit_above_200_is_rejected(sdk):
    with pytest.raises(ApiException) as caught:
        sdk.crm.contacts.search_api.do_search({"limit": 201})
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_search_deals_by_associated_contact(sdk, clock):
    contact = sdk.crm.contacts.basic_api.create({"properties": {"email": "assoc@example.com"}})
    link = [
        {
            "to": {"id": contact.id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        }
    ]
    linked = sdk.crm.deals.basic_api.create({"properties": {"dealname": "L"}, "associations": link})
    sdk.crm.deals.basic_api.create({"properties": {"dealname": "Other"}})
    clock.advance(LAG)
    found = sdk.crm.deals.search_api.do_search(
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "associations.contact",
                            "operator": "EQ",
                            "value": contact.id,
                        }
                    ]
                }
            ]
        }
    )
    assert [d.id for d in found.results] == [linked.id]
