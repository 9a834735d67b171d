"""`BatchSync` against the sandbox: a hundred leads in four calls, each lead settled on its
own, nothing written twice whatever answer is lost."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Sequence

import pytest

from actors.services import crm_service
from crm.batch_sync import Lead, SubmissionPayload, SyncProgress, WrittenContact, write_isolating
from crm.client import BatchAnswer, HubSpotObject, WriteInput
from crm.errors import ErrorKind, HubSpotError, WriteInDoubt
from crm.sandbox.faults import Fault
from crm.service import CRMService
from tests.faults import on_first

FORM = {
    "firstName": "sam",
    "lastName": "lee",
    "company": "Acme",
    "country": "DE",
    "serviceInterests": ["Data Collection"],
}


@pytest.fixture
def service(sandbox) -> CRMService:
    return crm_service()


def _lead(service: CRMService, email: str, form_type: str = "contact", **fields: str) -> Lead:
    payload = service.build_payload(FORM | {"email": email} | fields, form_type, str(uuid.uuid4()))
    return Lead(payload, SyncProgress())


def _leads(service: CRMService, count: int) -> list[Lead]:
    return [_lead(service, f"lead{n}@example.com") for n in range(count)]


def _run(service: CRMService, leads: Sequence[Lead], **kwargs) -> list[Lead]:
    service.sync_leads(leads, lambda changed: None, **kwargs)
    return list(leads)


def _calls(sandbox) -> list[str]:
    return [f"{method} {path}" for method, path, *_ in sandbox.request_log]


def test_a_hundred_leads_take_four_calls(service: CRMService, sandbox) -> None:
    leads = _leads(service, 100)
    before = len(sandbox.request_log)

    _run(service, leads)

    assert all(lead.progress.done and lead.problem is None for lead in leads)
    assert _calls(sandbox)[before:] == [
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/contacts/batch/upsert",
        "POST /crm/v3/objects/deals/batch/create",
        "POST /crm/v3/objects/notes/batch/create",
    ]
    assert (len(sandbox.contacts()), len(sandbox.deals()), len(sandbox.notes())) == (100, 100, 100)
    deal = sandbox.deals()[0]
    [(contact_id, type_id)] = sandbox.associations("deals", deal["id"], "contacts")
    assert type_id == 3
    note = next(n for n in sandbox.notes() if deal["properties"]["submission_id"] in str(n))
    assert {to for to, _ in sandbox.associations("notes", note["id"], "deals")} == {deal["id"]}
    assert {to for to, _ in sandbox.associations("notes", note["id"], "contacts")} == {contact_id}


def test_two_submissions_of_one_email_are_one_contact_two_deals_two_notes(
    service: CRMService, sandbox
) -> None:
    demo = _lead(service, "sam@example.com", "demo_request", jobTitle="Engineer")
    quote = _lead(service, " SAM@Example.com ", "quote_request", jobTitle="CTO")

    _run(service, [demo, quote])

    [contact] = sandbox.contacts()
    assert demo.progress.contact_id == quote.progress.contact_id == contact["id"]
    assert (len(sandbox.deals()), len(sandbox.notes())) == (2, 2)
    # The later submission's values are the contact's, as if each had been sent in turn.
    assert contact["properties"]["jobtitle"] == "CTO"
    assert contact["properties"]["form_type"] == "quote_request"
    assert contact["properties"]["lifecyclestage"] == "opportunity"


def test_one_invalid_input_fails_its_lead_and_not_its_neighbours(
    service: CRMService, sandbox
) -> None:
    leads = _leads(service, 5)
    bad = leads[2]
    properties = dict(bad.payload.contact_properties, no_such_property="x")
    bad.payload = _with(bad.payload, contact_properties=properties)

    _run(service, leads)

    assert isinstance(bad.problem, HubSpotError) and bad.problem.kind is ErrorKind.PERMANENT
    assert "no_such_property" in bad.problem.message and bad.problem.correlation_id
    assert bad.progress.contact_id is None
    assert all(lead.progress.done for lead in leads if lead is not bad)
    assert len(sandbox.deals()) == 4


def test_a_later_submission_already_on_the_contact_keeps_its_values(
    service: CRMService, sandbox
) -> None:
    # Given a quote sent after a demo, synced first (the demo was waiting for a retry)
    demo = _lead(service, "sam@example.com", "demo_request", jobTitle="Engineer")
    quote = _lead(service, "sam@example.com", "quote_request", jobTitle="CTO")
    quote.payload = _with(quote.payload, submitted_at_ms=demo.payload.submitted_at_ms + 1000)
    _run(service, [quote])

    # When the demo syncs after it
    written = {"sam@example.com": [_written(quote)]}
    _run(service, [demo], written=written)

    # Then the contact still holds the quote's values
    [contact] = sandbox.contacts()
    assert contact["properties"]["jobtitle"] == "CTO"
    assert contact["properties"]["form_type"] == "quote_request"
    assert demo.progress.done


def test_a_deal_whose_create_answer_was_lost_is_found_not_duplicated(
    service: CRMService, sandbox, faults, monkeypatch
) -> None:
    leads = _leads(service, 3)
    monkeypatch.setattr(
        faults, "fault_for", on_first("POST", "/deals/batch/create", Fault(drop_answer=True))
    )
    before = len(sandbox.request_log)

    _run(service, leads)

    # Sent again at once: HubSpot refuses the deals that landed (their submission id is
    # unique), the upsert finds them, the association follows.
    assert all(lead.progress.done for lead in leads)
    assert len(sandbox.deals()) == 3
    for lead in leads:
        pairs = sandbox.associations("deals", lead.progress.deal_id, "contacts")
        assert (lead.progress.contact_id, 3) in pairs
    assert [c for c in _calls(sandbox)[before:] if "deal" in c] == [
        "POST /crm/v3/objects/deals/batch/create",
        "POST /crm/v3/objects/deals/batch/create",
        "POST /crm/v3/objects/deals/batch/upsert",
        "POST /crm/v4/associations/deal/contact/batch/associate/default",
    ]


def test_a_note_create_answered_with_a_5xx_is_looked_for_before_it_is_sent_again(
    service: CRMService, sandbox, faults, monkeypatch
) -> None:
    leads = _leads(service, 3)
    before = len(sandbox.request_log)
    written_then_failed = Fault(status_after_write=503)
    monkeypatch.setattr(
        faults, "fault_for", on_first("POST", "/notes/batch/create", written_then_failed)
    )

    _run(service, leads)

    assert all(lead.progress.done for lead in leads)
    assert len(sandbox.notes()) == 3
    assert [c for c in _calls(sandbox)[before:] if "note" in c] == [
        "POST /crm/v3/objects/notes/batch/create",
        "POST /crm/v4/associations/deal/note/batch/read",
        "POST /crm/v3/objects/notes/batch/read",
    ]


def test_a_batch_note_create_whose_answer_was_lost_is_never_sent_twice(
    service: CRMService, sandbox, faults, monkeypatch
) -> None:
    leads = _leads(service, 3)
    monkeypatch.setattr(
        faults, "fault_for", on_first("POST", "/notes/batch/create", Fault(drop_answer=True))
    )
    with pytest.raises(HubSpotError):
        _run(service, leads)
    assert len(sandbox.notes()) == 3  # written, unanswered

    # Too soon: the notes may still be landing, so nothing is looked for or sent.
    calls = len(sandbox.request_log)
    _run(service, leads)
    assert all(isinstance(lead.problem, WriteInDoubt) for lead in leads)
    assert len(sandbox.request_log) == calls

    # Later: each note is found on its deal by its marker, none is sent again.
    for lead in leads:
        lead.problem = None
        lead.progress.activity_attempted_at = time.time() - 3600
    _run(service, leads)

    assert all(lead.progress.done for lead in leads)
    assert len(sandbox.notes()) == 3
    assert {lead.progress.activity_id for lead in leads} == {n["id"] for n in sandbox.notes()}
    assert not any("notes/batch/create" in call for call in _calls(sandbox)[calls:])


def test_progress_is_saved_after_every_step(service: CRMService, sandbox) -> None:
    leads = _leads(service, 2)
    seen: list[tuple[bool, bool, bool, bool]] = []

    def save(changed: Sequence[Lead]) -> None:
        progress = changed[0].progress
        seen.append(
            (
                bool(progress.contact_id),
                bool(progress.deal_id),
                progress.activity_attempted_at is not None,
                bool(progress.activity_id),
            )
        )

    service.sync_leads(leads, save)

    assert seen == [
        (True, False, False, False),
        (True, True, False, False),
        (True, True, True, False),  # before the note is sent
        (True, True, True, True),
    ]


def test_a_lead_whose_row_was_taken_over_gets_no_further_write(
    service: CRMService, sandbox
) -> None:
    leads = _leads(service, 2)

    def lose_the_first_after_its_contact(changed: Sequence[Lead]) -> None:
        leads[0].held = False

    service.sync_leads(leads, lose_the_first_after_its_contact)

    assert leads[0].progress.deal_id is None and leads[1].progress.done
    assert len(sandbox.deals()) == 1


def test_a_batch_refused_as_a_whole_is_halved_until_the_bad_input_stands_alone() -> None:
    sent: list[int] = []

    def send(inputs: Sequence[WriteInput]) -> BatchAnswer:
        sent.append(len(inputs))
        if any(item.trace_id == "bad" for item in inputs):
            raise HubSpotError(ErrorKind.PERMANENT, "Property values were not valid", status=400)
        written = [HubSpotObject(item.trace_id, {}, trace_id=item.trace_id) for item in inputs]
        return BatchAnswer(written)

    inputs = [WriteInput("bad" if n == 5 else f"ok{n}", {}) for n in range(8)]

    answer = write_isolating(inputs, send)

    assert sorted(result.trace_id for result in answer.results) == sorted(
        item.trace_id for item in inputs if item.trace_id != "bad"
    )
    [refused] = answer.errors
    assert refused.trace_ids == ("bad",) and refused.error.status == 400
    assert sent == [8, 4, 4, 2, 1, 1, 2]


def test_a_transient_failure_of_a_whole_batch_is_not_halved() -> None:
    def send(inputs: Sequence[WriteInput]) -> BatchAnswer:
        raise HubSpotError(ErrorKind.TRANSIENT, "Service Unavailable", status=503)

    with pytest.raises(HubSpotError):
        write_isolating([WriteInput("a", {}), WriteInput("b", {})], send)


def _with(payload: SubmissionPayload, **changes) -> SubmissionPayload:
    return dataclasses.replace(payload, **changes)


def _written(lead: Lead) -> WrittenContact:
    return WrittenContact(lead.payload.submitted_at_ms, lead.payload.contact_properties)


@pytest.fixture
def timeline(sandbox, sandbox_server) -> CRMService:
    """The CRM service of a public app: activities are custom timeline events."""
    import httpx2

    tokens = ("formName", "formType", "submissionId", "dealId")
    template = httpx2.post(
        f"{sandbox_server.url}/integrators/timeline/v3/424242/event-templates",
        params={"hapikey": "dev-key"},
        json={
            "name": "Website form",
            "objectType": "contacts",
            "headerTemplate": "{{formName}}",
            "tokens": [{"name": t, "label": t, "type": "string"} for t in tokens],
        },
    ).json()
    service = crm_service()
    return CRMService(service.client, service.map, timeline_template_id=template["id"])


def test_timeline_events_are_the_activity_of_a_public_app(timeline: CRMService, sandbox) -> None:
    leads = _leads(timeline, 3)

    _run(timeline, leads)

    assert all(lead.progress.done for lead in leads)
    assert {lead.progress.activity_id for lead in leads} == {
        f"submission-{lead.payload.submission_id}" for lead in leads
    }
    assert len(sandbox.events) == 3 and sandbox.notes() == []


def test_a_timeline_event_hubspot_refuses_fails_its_lead_alone(
    timeline: CRMService, sandbox
) -> None:
    leads = _leads(timeline, 3)
    _run(timeline, leads[:2])
    for lead in leads[:2]:
        lead.progress.activity_id = None
    gone = Lead(leads[2].payload, dataclasses.replace(leads[0].progress, contact_id="999999"))

    _run(timeline, [leads[0], gone, leads[1]])

    assert leads[0].progress.done and leads[1].progress.done
    assert isinstance(gone.problem, HubSpotError) and gone.problem.kind is ErrorKind.PERMANENT
    assert gone.progress.activity_id is None
