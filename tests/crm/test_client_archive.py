"""`HubSpotClient.archive_deal` and `archive_note` against the sandbox: HubSpot's
`DELETE /crm/v3/objects/{deals,notes}/{id}` answers 204, also for an object already gone;
an archived object is no longer returned by GET (only with `archived=true`, from the
recycle bin); errors are classified and every call reaches the hooks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from crm.client import CallRecord, HubSpotClient, HubSpotObject, WriteInput
from crm.errors import ErrorKind, HubSpotError
from crm.sandbox.faults import FaultPlan

TOKEN = "sandbox-token"


class Recorder:
    """A `CallHook` that keeps every call record."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def before_call(self, operation: str) -> None:
        pass

    def after_call(self, record: CallRecord) -> None:
        self.records.append(record)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(sandbox, sandbox_server, recorder: Recorder) -> HubSpotClient:
    return HubSpotClient(TOKEN, sandbox_server.url, timeout_s=5, hooks=[recorder])


@pytest.fixture
def http(sandbox_server) -> Iterator[httpx2.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx2.Client(base_url=sandbox_server.url, headers=headers) as raw:
        yield raw


def _deal(client: HubSpotClient, submission_id: str, contact_id: str) -> HubSpotObject:
    properties = {
        "dealname": f"Acme {submission_id}",
        "pipeline": "default",
        "dealstage": "appointmentscheduled",
        "submission_id": submission_id,
    }
    upsert = WriteInput(submission_id, properties, id_value=submission_id)
    [deal] = client.upsert_deals("submission_id", [upsert]).results
    client.associate_deals_with_contacts([(deal.id, contact_id)])
    return deal


def _note(client: HubSpotClient, contact_id: str, deal_id: str) -> HubSpotObject:
    body = {"body": "<ul><li>Name: Erin Doe</li></ul>", "timestamp_ms": 1, "deal_id": deal_id}
    return client.log_activity(contact_id, "Website form", body)


def _deletes(sandbox) -> list[tuple[str, int]]:
    return [(path, status) for method, path, status, _ in sandbox.request_log if method == "DELETE"]


def test_an_archived_deal_and_note_are_no_longer_returned_by_get(
    client: HubSpotClient, sandbox, http: httpx2.Client, recorder: Recorder
) -> None:
    contact = client.create_contact({"email": "erin@example.com"})
    deal, kept_deal = _deal(client, "sub-1", contact.id), _deal(client, "sub-2", contact.id)
    note, kept_note = _note(client, contact.id, deal.id), _note(client, contact.id, kept_deal.id)

    client.archive_note(note.id)
    client.archive_deal(deal.id)

    assert _deletes(sandbox) == [
        (f"/crm/v3/objects/notes/{note.id}", 204),
        (f"/crm/v3/objects/deals/{deal.id}", 204),
    ]
    assert http.get(f"/crm/v3/objects/notes/{note.id}").status_code == 404
    assert http.get(f"/crm/v3/objects/deals/{deal.id}").status_code == 404
    # The recycle bin still shows them, as HubSpot's does for 90 days.
    archived = http.get(f"/crm/v3/objects/deals/{deal.id}", params={"archived": "true"})
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert [n.id for n in client.read_notes([note.id, kept_note.id])] == [kept_note.id]
    # The others are untouched.
    assert http.get(f"/crm/v3/objects/deals/{kept_deal.id}").status_code == 200
    assert http.get(f"/crm/v3/objects/notes/{kept_note.id}").status_code == 200
    live_deals = [d["id"] for d in sandbox.deals() if not d["archived"]]
    live_notes = [n["id"] for n in sandbox.notes() if not n["archived"]]
    assert (live_deals, live_notes) == ([kept_deal.id], [kept_note.id])
    # Both calls went through `_call`, so the limiter, breaker and audit log saw them.
    archives = [
        (r.operation, r.status, r.error) for r in recorder.records if "archive" in r.operation
    ]
    assert archives == [("archive_note", 204, None), ("archive_deal", 204, None)]


def test_archiving_what_is_already_gone_is_harmless(client: HubSpotClient, sandbox) -> None:
    contact = client.create_contact({"email": "erin@example.com"})
    deal = _deal(client, "sub-1", contact.id)
    note = _note(client, contact.id, deal.id)
    client.archive_note(note.id)
    client.archive_deal(deal.id)

    client.archive_note(note.id)
    client.archive_deal(deal.id)
    client.archive_note("987654321")
    client.archive_deal("987654321")

    assert [status for _, status in _deletes(sandbox)] == [204] * 6


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (503, ErrorKind.TRANSIENT),
        (429, ErrorKind.RATE_LIMITED),
        (403, ErrorKind.AUTHENTICATION),
        (400, ErrorKind.PERMANENT),
    ],
)
def test_a_failed_archive_is_a_classified_hubspot_error(
    client: HubSpotClient, sandbox, faults: FaultPlan, recorder: Recorder, status, kind
) -> None:
    contact = client.create_contact({"email": "erin@example.com"})
    deal = _deal(client, "sub-1", contact.id)
    faults.configure(error_rate=1, error_statuses=[status])

    with pytest.raises(HubSpotError) as caught:
        client.archive_deal(deal.id)

    assert caught.value.kind is kind and caught.value.status == status
    assert caught.value.operation == "archive_deal"
    assert recorder.records[-1].operation == "archive_deal"
    assert recorder.records[-1].error is caught.value
    faults.clear()
    assert [d["id"] for d in sandbox.deals() if not d["archived"]] == [deal.id]
