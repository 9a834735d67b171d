"""`HubSpotClient` on the official SDK, over HTTP to the sandbox, as it talks to HubSpot."""

from __future__ import annotations

import socket

import pytest

from crm.client import DEAL_TO_CONTACT, HubSpotClient
from crm.errors import ErrorKind, HubSpotError


@pytest.fixture
def client(sandbox, sandbox_server) -> HubSpotClient:
    return HubSpotClient("sandbox-token", sandbox_server.url, timeout_s=5)


def test_contact_is_found_by_email_right_after_it_is_created(client: HubSpotClient) -> None:
    created = client.create_contact({"email": "jane@example.com", "firstname": "Jane"})

    found = client.find_contact("JANE@example.com", ["firstname"])

    assert found is not None and found.id == created.id
    assert found.properties["firstname"] == "Jane"
    assert client.find_contact("nobody@example.com") is None


def test_duplicate_email_is_a_conflict_naming_the_existing_contact(client: HubSpotClient) -> None:
    first = client.create_contact({"email": "dup@example.com"})

    with pytest.raises(HubSpotError) as caught:
        client.create_contact({"email": "DUP@example.com"})

    assert caught.value.kind is ErrorKind.CONFLICT
    assert caught.value.existing_id == first.id
    assert caught.value.correlation_id


def test_unknown_property_is_permanent_with_hubspots_message(client: HubSpotClient) -> None:
    with pytest.raises(HubSpotError) as caught:
        client.create_contact({"email": "x@example.com", "lifecycle_stage": "lead"})

    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.status == 400
    assert "lifecycle_stage" in caught.value.message
    assert caught.value.correlation_id


def test_deal_upsert_on_the_submission_id_never_makes_a_second_deal(
    client: HubSpotClient, sandbox
) -> None:
    properties = {
        "dealname": "Acme",
        "pipeline": "default",
        "dealstage": "appointmentscheduled",
        "submission_id": "sub-1",
    }

    first = client.upsert_deal("submission_id", "sub-1", properties)
    again = client.upsert_deal("submission_id", "sub-1", properties)

    assert first.created and not again.created
    assert first.id == again.id
    assert len(sandbox.deals()) == 1


def test_association_is_confirmed_from_hubspots_answer(client: HubSpotClient, sandbox) -> None:
    contact = client.create_contact({"email": "a@example.com"})
    deal = client.upsert_deal(
        "submission_id",
        "sub-2",
        {
            "dealname": "A",
            "submission_id": "sub-2",
            "pipeline": "default",
            "dealstage": "appointmentscheduled",
        },
    )

    type_ids = client.associate_deal_with_contact(deal.id, contact.id)

    assert DEAL_TO_CONTACT in type_ids
    assert client.associated_ids("contact", contact.id, "deal") == [deal.id]


def test_activity_note_is_on_the_contact_and_the_deal(client: HubSpotClient) -> None:
    contact = client.create_contact({"email": "n@example.com"})
    deal = client.create_deal(
        {"dealname": "N", "pipeline": "default", "dealstage": "appointmentscheduled"}, contact.id
    )

    note = client.log_activity(
        contact.id, "Website form", {"body": "<p>hi</p>", "deal_id": deal.id}
    )

    assert client.associated_ids("deal", deal.id, "note") == [note.id]
    assert client.associated_ids("contact", contact.id, "note") == [note.id]
    [read] = client.read_notes([note.id])
    assert "Website form" in read.properties["hs_note_body"]


def test_a_wrong_token_is_an_authentication_error(sandbox_server, sandbox) -> None:
    client = HubSpotClient("pat-wrong", sandbox_server.url, timeout_s=5)

    with pytest.raises(HubSpotError) as caught:
        client.find_contact("a@example.com")

    assert caught.value.kind is ErrorKind.AUTHENTICATION


def test_no_answer_at_all_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HubSpotClient("t", f"http://127.0.0.1:{port}", timeout_s=1)

    with pytest.raises(HubSpotError) as caught:
        client.create_contact({"email": "a@example.com"})

    assert caught.value.kind is ErrorKind.TRANSIENT
