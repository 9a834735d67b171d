"""`HubSpotClient` on the official SDK, over HTTP to the sandbox, as it talks to HubSpot."""

from __future__ import annotations

import socket

import pytest

from crm.client import DEAL_TO_CONTACT, HubSpotClient, WriteInput
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


def _deal(submission_id: str) -> dict[str, str]:
    return {
        "dealname": f"Acme {submission_id}",
        "pipeline": "default",
        "dealstage": "appointmentscheduled",
        "submission_id": submission_id,
    }


def test_deal_upsert_on_the_submission_id_never_makes_a_second_deal(
    client: HubSpotClient, sandbox
) -> None:
    upsert = [WriteInput("t-1", _deal("sub-1"), id_value="sub-1")]

    first = client.upsert_deals("submission_id", upsert)
    again = client.upsert_deals("submission_id", upsert)

    assert [(r.trace_id, r.created) for r in first.results] == [("t-1", True)]
    assert [(r.trace_id, r.created) for r in again.results] == [("t-1", False)]
    assert first.results[0].id == again.results[0].id
    assert len(sandbox.deals()) == 1


def test_contacts_are_read_and_upserted_by_email_in_one_call_each(
    client: HubSpotClient, sandbox
) -> None:
    known = client.create_contact({"email": "known@example.com", "firstname": "Kim"})

    found = client.read_contacts_by_email(["KNOWN@example.com", "new@example.com"], ["firstname"])
    answer = client.upsert_contacts(
        [
            WriteInput("a", {"email": "known@example.com", "jobtitle": "CTO"}, "known@example.com"),
            WriteInput("b", {"email": "new@example.com"}, id_value="new@example.com"),
        ]
    )

    assert list(found) == ["known@example.com"]
    assert found["known@example.com"].id == known.id
    assert found["known@example.com"].properties["firstname"] == "Kim"
    by_trace = {result.trace_id: result for result in answer.results}
    assert by_trace["a"].id == known.id and not by_trace["a"].created
    assert by_trace["b"].created and answer.errors == []
    assert len(sandbox.contacts()) == 2


def test_one_refused_input_of_a_batch_is_named_by_its_trace_id(
    client: HubSpotClient, sandbox
) -> None:
    answer = client.upsert_contacts(
        [
            WriteInput("good", {"email": "ok@example.com"}, id_value="ok@example.com"),
            WriteInput("bad", {"no_such_property": "x"}, id_value="bad@example.com"),
        ]
    )

    assert [result.trace_id for result in answer.results] == ["good"]
    [refused] = answer.errors
    assert refused.trace_ids == ("bad",)
    assert refused.error.kind is ErrorKind.PERMANENT
    assert "no_such_property" in refused.error.message and refused.error.correlation_id


def test_deals_are_created_with_their_association_and_confirmed_from_the_answer(
    client: HubSpotClient, sandbox
) -> None:
    contact = client.create_contact({"email": "a@example.com"})
    created = client.create_deals(
        [WriteInput("sub-2", _deal("sub-2"), associations=((contact.id, DEAL_TO_CONTACT),))],
        "submission_id",
    )
    [deal] = created.results

    confirmed = client.associate_deals_with_contacts([(deal.id, contact.id)])

    assert deal.trace_id == "sub-2"
    assert client.associated_ids("contact", contact.id, "deal") == [deal.id]
    assert confirmed == {(deal.id, contact.id)}


def test_activity_note_is_on_the_contact_and_the_deal(client: HubSpotClient) -> None:
    contact = client.create_contact({"email": "n@example.com"})
    [deal] = client.create_deals(
        [WriteInput("sub-3", _deal("sub-3"), associations=((contact.id, DEAL_TO_CONTACT),))],
        "submission_id",
    ).results

    note = client.log_activity(
        contact.id, "Website form", {"body": "<p>hi</p>", "deal_id": deal.id}
    )

    assert client.associated_ids("deal", deal.id, "note") == [note.id]
    assert client.associated_ids_of("deal", [deal.id], "note") == {deal.id: [note.id]}
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
