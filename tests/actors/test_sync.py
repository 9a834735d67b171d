"""`sync_submission` drains stored submissions: each row ends synced with its ids, failed
with HubSpot's reason, or waiting with a due time, in batches of up to a hundred."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

import pytest

from actors.retry_policy import CALL_REPEATS
from actors.sync import sync_submission
from crm.sandbox.faults import Fault
from storage.listing import hubspot_calls
from storage.submissions import get_submission
from storage.tables import Submission
from tests.faults import on_first, open_breaker
from web.submit import accept_submission

#: Deeper than json.loads and json.dumps recurse: a row stored before input was bounded.
DEEP = 950

FORM = {
    "email": "sam@example.com",
    "firstName": "Sam",
    "lastName": "Lee",
    "company": "Acme",
    "country": "DE",
    "serviceInterests": ["Data Collection"],
}


def _store(form_type: str = "contact", **overrides) -> str:
    accepted = asyncio.run(accept_submission(form_type, FORM | overrides))
    assert accepted.ok, accepted.errors
    return str(accepted.submission_id)


def _row(submission_id: str) -> Submission:
    return asyncio.run(get_submission(submission_id))


def _delayed() -> list[dict]:
    from actors.broker import broker

    return [json.loads(raw) for raw in broker.client.hvals("dramatiq:crm.DQ.msgs")]


def _set(submission_id: str, **columns) -> None:
    Submission.update({getattr(Submission, k): v for k, v in columns.items()}).where(
        Submission.id == uuid.UUID(submission_id)
    ).run_sync()


def test_a_synced_submission_records_its_hubspot_ids(db, sandbox) -> None:
    submission_id = _store()

    sync_submission(submission_id)

    row = _row(submission_id)
    assert row.status == "synced" and row.synced_at is not None
    assert row.hubspot_contact_id == sandbox.contacts()[0]["id"]
    assert row.hubspot_deal_id == sandbox.deals()[0]["id"]
    assert row.hubspot_activity_id == sandbox.notes()[0]["id"]
    assert row.last_error is None and row.attempts == 1 and row.retries == 0


def test_waiting_submissions_go_together_in_one_batch_of_four_calls(db, sandbox) -> None:
    ids = [_store(email=f"lead{n}@example.com") for n in range(30)]
    calls = len(sandbox.request_log)

    sync_submission(ids[0])

    assert {_row(i).status for i in ids} == {"synced"}
    assert len(sandbox.request_log) - calls == 4
    assert len(sandbox.contacts()) == len(sandbox.deals()) == len(sandbox.notes()) == 30


def test_running_the_actor_again_makes_no_new_hubspot_object(db, sandbox) -> None:
    submission_id = _store()
    sync_submission(submission_id)
    calls = len(sandbox.request_log)

    sync_submission(submission_id)

    assert len(sandbox.request_log) == calls
    assert (len(sandbox.contacts()), len(sandbox.deals()), len(sandbox.notes())) == (1, 1, 1)


def test_a_permanent_hubspot_error_fails_the_row_with_hubspots_message(db, sandbox) -> None:
    # A portal without the custom properties: HubSpot refuses them.
    sandbox.reset()
    submission_id = _store()

    sync_submission(submission_id)

    row = _row(submission_id)
    assert row.status == "failed"
    assert "does not exist" in row.last_error and "upsert_contacts" in row.last_error
    assert row.last_error_correlation_id


def test_one_refused_lead_fails_alone_and_its_neighbours_sync(db, sandbox) -> None:
    good = [_store(email=f"ok{n}@example.com") for n in range(3)]
    bad = _store(email="bad@example.com")
    row = _row(bad)
    _set(bad, contact_properties={**row.contact_properties, "no_such_property": "x"})

    sync_submission(bad)

    assert _row(bad).status == "failed" and "no_such_property" in _row(bad).last_error
    assert {_row(i).status for i in good} == {"synced"}


def test_a_row_stored_deeply_nested_fails_alone_with_a_reason_and_its_neighbours_sync(
    db, sandbox
) -> None:
    good = [_store(email=f"ok{n}@example.com") for n in range(3)]
    deep = _store(email="deep@example.com")
    _set(deep, contact_properties='{"a":' * DEEP + "1" + "}" * DEEP)

    sync_submission(deep)

    assert _row(deep).status == "failed" and "nested too deeply" in _row(deep).last_error
    assert {_row(i).status for i in good} == {"synced"}
    assert "deep@example.com" not in {c["properties"]["email"] for c in sandbox.contacts()}


@pytest.fixture
def retry_in_a_minute(monkeypatch) -> None:
    """Retries due a minute later, so a test sees the rows wait (and moves time itself)."""
    monkeypatch.setattr("actors.sync.backoff_s", lambda retries, no_answer=False: 60.0)


def _due_now(*ids: str) -> None:
    for submission_id in ids:
        _set(submission_id, next_attempt_at=dt.datetime.now(dt.UTC))


def test_a_transient_failure_leaves_the_rows_waiting_with_a_retry_counted(
    db, sandbox, faults, monkeypatch, retry_in_a_minute
) -> None:
    ids = [_store(email=f"t{n}@example.com") for n in range(3)]
    # Failing more often than the worker repeats a call at once.
    failing = on_first("POST", "/deals/batch/create", Fault(status=503), CALL_REPEATS + 1)
    monkeypatch.setattr(faults, "fault_for", failing)

    sync_submission(ids[0])

    rows = [_row(i) for i in ids]
    assert {(r.status, r.retries) for r in rows} == {("pending", 1)}
    assert all(r.hubspot_contact_id and not r.hubspot_deal_id for r in rows)
    assert "HTTP 503" in rows[0].last_error and rows[0].last_error_correlation_id
    assert all(r.next_attempt_at > dt.datetime.now(dt.UTC) for r in rows)
    [wake_up] = _delayed()
    assert wake_up["args"][0] in ids and wake_up["options"]["eta"] > time.time() * 1000 + 50_000

    _due_now(*ids)
    sync_submission(wake_up["args"][0])  # the retry resumes at the deals

    assert {(_row(i).status, _row(i).retries) for i in ids} == {("synced", 0)}
    assert (len(sandbox.contacts()), len(sandbox.deals()), len(sandbox.notes())) == (3, 3, 3)


def test_a_call_that_fails_once_is_repeated_at_once_without_a_retry_counted(
    db, sandbox, faults, monkeypatch
) -> None:
    ids = [_store(email=f"r{n}@example.com") for n in range(3)]
    failing = on_first("POST", "/contacts/batch/upsert", Fault(status=502))
    monkeypatch.setattr(faults, "fault_for", failing)

    sync_submission(ids[0])

    assert {(_row(i).status, _row(i).retries) for i in ids} == {("synced", 0)}
    calls = asyncio.run(hubspot_calls(uuid.UUID(ids[0])))
    assert [(c["operation"], c["status"]) for c in calls][:3] == [
        ("read_contacts", 207),
        ("upsert_contacts", 502),
        ("upsert_contacts", 200),
    ]


def test_a_step_that_keeps_failing_uses_the_retries_then_fails_the_rows(
    db, sandbox, faults, monkeypatch, retry_in_a_minute
) -> None:
    from settings import get_settings

    ids = [_store(email=f"t{n}@example.com") for n in range(2)]
    monkeypatch.setattr(
        faults,
        "fault_for",
        lambda method, path: Fault(status=503) if "/deals/batch/create" in path else None,
    )

    for _ in range(get_settings().hubspot_max_retries + 1):
        sync_submission(ids[0])
        _due_now(*ids)

    rows = [_row(i) for i in ids]
    assert {(r.status, r.retries) for r in rows} == {
        ("failed", get_settings().hubspot_max_retries + 1)
    }
    assert all(r.hubspot_contact_id and "HTTP 503" in r.last_error for r in rows)
    assert all(r.last_error_correlation_id for r in rows)


def test_a_row_that_moved_a_step_on_starts_its_retry_count_again(
    db, sandbox, faults, monkeypatch, retry_in_a_minute
) -> None:
    from settings import get_settings

    submission_id = _store()
    _set(submission_id, retries=get_settings().hubspot_max_retries)  # one more would fail it
    failing = on_first("POST", "/deals/batch/create", Fault(status=503), CALL_REPEATS + 1)
    monkeypatch.setattr(faults, "fault_for", failing)

    sync_submission(submission_id)

    row = _row(submission_id)
    assert row.hubspot_contact_id and not row.hubspot_deal_id
    assert (row.status, row.retries) == ("pending", 1)


def test_a_row_out_of_retries_fails_with_the_last_error(db, sandbox, faults) -> None:
    from settings import get_settings

    submission_id = _store()
    _set(submission_id, retries=get_settings().hubspot_max_retries)
    faults.configure(error_rate=1, error_statuses=[502])

    sync_submission(submission_id)

    row = _row(submission_id)
    assert row.status == "failed" and "HTTP 502" in row.last_error


def test_while_the_breaker_is_open_nothing_is_called_and_one_wake_up_waits(db, sandbox) -> None:

    ids = [_store(email=f"b{n}@example.com") for n in range(3)]
    open_breaker()
    calls = len(sandbox.request_log)

    for submission_id in ids:
        sync_submission(submission_id)

    assert {(_row(i).status, _row(i).attempts) for i in ids} == {("pending", 0)}
    assert len(sandbox.request_log) == calls
    assert len(_delayed()) == 1, "one wake-up per open breaker, not one per message"


def test_a_breaker_that_opens_mid_sync_puts_the_rows_back_without_a_retry(
    db, sandbox, monkeypatch
) -> None:
    from actors.services import circuit_breaker
    from crm.breaker import BreakerOpen

    submission_id = _store()

    def opens(operation: str) -> None:
        raise BreakerOpen(12.0)

    monkeypatch.setattr(circuit_breaker(), "before_call", opens)

    sync_submission(submission_id)

    row = _row(submission_id)
    assert row.status == "pending" and "circuit breaker is open" in row.last_error
    assert row.retries == 0 and row.next_attempt_at is not None
    assert len(_delayed()) == 1


def test_every_hubspot_call_of_a_sync_is_in_the_audit_log(db, sandbox) -> None:
    first, second = _store(), _store(email="kim@example.com")

    sync_submission(first)

    for submission_id in (first, second):
        calls = asyncio.run(hubspot_calls(uuid.UUID(submission_id)))
        assert [call["operation"] for call in calls] == [
            "read_contacts",
            "upsert_contacts",
            "create_deals",
            "create_notes",
        ]
        assert all(call["outcome"] == "ok" and 200 <= call["status"] < 300 for call in calls)
        assert all(call["duration_ms"] > 0 and call["batch_id"] for call in calls)


def test_a_worker_whose_row_was_taken_over_stops_before_writing_more(
    db, sandbox, monkeypatch
) -> None:
    from actors.services import hubspot_client

    submission_id = _store()
    client = hubspot_client()
    create_deals = client.create_deals

    def create_then_lose_the_lease(*args, **kwargs):
        answer = create_deals(*args, **kwargs)
        # Meanwhile the lease ran out and another worker claimed the row.
        _set(submission_id, batch_id=uuid.uuid4())
        return answer

    monkeypatch.setattr(client, "create_deals", create_then_lose_the_lease)

    sync_submission(submission_id)

    assert sandbox.notes() == []
    assert _row(submission_id).status == "syncing"


def test_an_unanswered_note_is_looked_for_only_after_it_could_have_landed(
    db, sandbox, faults, monkeypatch
) -> None:
    submission_id = _store()
    monkeypatch.setattr(
        faults, "fault_for", on_first("POST", "/notes/batch/create", Fault(drop_answer=True))
    )

    sync_submission(submission_id)  # no answer: retried after the write could land
    row = _row(submission_id)
    assert row.status == "pending" and row.retries == 1 and len(sandbox.notes()) == 1

    sync_submission(submission_id)  # too soon: the note may still be on its way
    row = _row(submission_id)
    assert row.status == "pending" and "may still land" in row.last_error
    assert len(sandbox.notes()) == 1

    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    _set(submission_id, activity_attempted_at=an_hour_ago)
    sync_submission(submission_id)

    [note] = sandbox.notes()
    row = _row(submission_id)
    assert (row.status, row.hubspot_activity_id) == ("synced", note["id"])


def test_a_later_submission_keeps_its_values_when_an_earlier_one_syncs_after_it(
    db, sandbox
) -> None:
    # Given a demo request, then a quote request from the same visitor
    demo = _store("demo_request", jobTitle="Engineer", projectDetails="Demo please")
    quote = _store("quote_request", jobTitle="CTO", projectDetails="Quote please")
    # and the demo waiting for a retry while the quote syncs
    _set(demo, next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    sync_submission(quote)
    assert _row(demo).status == "pending" and _row(quote).status == "synced"

    # When the demo syncs after the quote
    sync_submission(demo)

    # Then the contact holds the quote's values: the order visitors sent them wins
    [contact] = sandbox.contacts()
    assert contact["properties"]["jobtitle"] == "CTO"
    assert contact["properties"]["project_description"] == "Quote please"
    assert contact["properties"]["form_type"] == "quote_request"
    assert _row(demo).status == "synced" and len(sandbox.deals()) == 2


@pytest.mark.parametrize("spelling", ["SAM@example.com", " Sam@Example.COM "])
def test_two_submissions_of_one_email_in_a_batch_are_one_contact(db, sandbox, spelling) -> None:
    first = _store("demo_request", jobTitle="Engineer")
    second = _store("quote_request", email=spelling, jobTitle="CTO")

    sync_submission(first)

    assert {_row(first).status, _row(second).status} == {"synced"}
    [contact] = sandbox.contacts()
    assert contact["properties"]["jobtitle"] == "CTO"
    assert (len(sandbox.deals()), len(sandbox.notes())) == (2, 2)
