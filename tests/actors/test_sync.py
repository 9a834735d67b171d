"""`sync_submission` settles a stored submission: synced with ids, or failed with a reason."""

from __future__ import annotations

import asyncio

import dramatiq
import pytest

from actors.sync import sync_submission
from storage.submissions import get_submission
from web.submit import accept_submission

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


def test_a_synced_submission_records_its_hubspot_ids(db, sandbox) -> None:
    submission_id = _store()

    sync_submission(submission_id)

    row = asyncio.run(get_submission(submission_id))
    assert row.status == "synced" and row.synced_at is not None
    assert row.hubspot_contact_id == sandbox.contacts()[0]["id"]
    assert row.hubspot_deal_id == sandbox.deals()[0]["id"]
    assert row.hubspot_activity_id == sandbox.notes()[0]["id"]
    assert row.last_error is None and row.attempts == 1


def test_running_the_actor_again_makes_no_new_hubspot_object(db, sandbox) -> None:
    submission_id = _store()
    sync_submission(submission_id)
    calls = len(sandbox.request_log)

    sync_submission(submission_id)

    assert len(sandbox.request_log) == calls
    assert (len(sandbox.contacts()), len(sandbox.deals()), len(sandbox.notes())) == (1, 1, 1)


def test_a_permanent_hubspot_error_fails_the_row_with_hubspots_message(db, sandbox) -> None:
    # A portal without the custom properties: HubSpot rejects them with a 400.
    sandbox.reset()
    submission_id = _store()

    sync_submission(submission_id)

    row = asyncio.run(get_submission(submission_id))
    assert row.status == "failed"
    assert "does not exist" in row.last_error and "HTTP 400" in row.last_error
    assert row.last_error_correlation_id


def _delayed_messages() -> int:
    from actors.broker import broker

    return broker.client.hlen("dramatiq:crm.DQ.msgs")


def test_while_the_breaker_is_open_nothing_is_called_and_the_job_waits(db, sandbox) -> None:
    from actors.services import circuit_breaker

    submission_id = _store()
    for _ in range(5):
        circuit_breaker().record_failure()
    calls = len(sandbox.request_log)

    sync_submission(submission_id)

    row = asyncio.run(get_submission(submission_id))
    assert row.status == "pending" and row.attempts == 0
    assert len(sandbox.request_log) == calls
    assert _delayed_messages() == 1


def test_a_breaker_that_opens_mid_sync_puts_the_job_back_without_a_retry(
    db, sandbox, monkeypatch
) -> None:
    from actors.services import circuit_breaker
    from crm.breaker import BreakerOpen

    submission_id = _store()

    def opens(operation: str) -> None:
        raise BreakerOpen(12.0)

    monkeypatch.setattr(circuit_breaker(), "before_call", opens)

    sync_submission(submission_id)

    row = asyncio.run(get_submission(submission_id))
    assert row.status == "pending" and "circuit breaker is open" in row.last_error
    assert row.next_attempt_at is not None
    assert _delayed_messages() == 1


def test_every_hubspot_call_of_a_sync_is_in_the_audit_log(db, sandbox) -> None:
    from storage.tables import HubSpotCall

    submission_id = _store()

    sync_submission(submission_id)

    rows = HubSpotCall.select().where(HubSpotCall.submission_id == submission_id).run_sync()
    assert [row["operation"] for row in rows] == [
        "create_contact",
        "upsert_deal",
        "associate_deal_contact",
        "log_activity",
    ]
    assert all(row["outcome"] == "ok" and 200 <= row["status"] < 300 for row in rows)
    assert all(row["duration_ms"] > 0 for row in rows)


def test_a_worker_whose_row_was_taken_over_stops_before_writing_more(
    db, sandbox, monkeypatch
) -> None:
    from actors.services import crm_service
    from storage.tables import Submission

    submission_id = _store()
    service = crm_service()
    real_upsert = service.create_deal_for_contact

    def upsert_then_lose_the_lease(*args, **kwargs):
        deal_id = real_upsert(*args, **kwargs)
        # Meanwhile the lease ran out and another worker claimed the row.
        Submission.update({Submission.attempts: Submission.attempts + 1}).where(
            Submission.id == submission_id
        ).run_sync()
        return deal_id

    monkeypatch.setattr(service, "create_deal_for_contact", upsert_then_lose_the_lease)

    sync_submission(submission_id)

    assert sandbox.notes() == []
    row = asyncio.run(get_submission(submission_id))
    assert row.status == "syncing" and row.attempts == 2


def test_an_unanswered_note_is_looked_for_only_after_it_could_have_landed(
    db, sandbox, monkeypatch
) -> None:
    import datetime as dt

    from actors.services import hubspot_client
    from crm.errors import ErrorKind, HubSpotError
    from storage.tables import Submission

    client = hubspot_client()
    send = client.log_activity

    def answer_lost(*args, **kwargs):
        send(*args, **kwargs)
        raise HubSpotError(ErrorKind.TRANSIENT, "no answer", operation="log_activity")

    submission_id = _store()
    monkeypatch.setattr(client, "log_activity", answer_lost)
    with pytest.raises(dramatiq.Retry):  # no answer: retried after the write could land
        sync_submission(submission_id)
    monkeypatch.setattr(client, "log_activity", send)

    sync_submission(submission_id)  # too soon: the note may still be on its way
    assert len(sandbox.notes()) == 1 and _delayed_messages() == 1

    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    Submission.update({Submission.activity_attempted_at: an_hour_ago}).where(
        Submission.id == submission_id
    ).run_sync()
    sync_submission(submission_id)

    [note] = sandbox.notes()
    row = asyncio.run(get_submission(submission_id))
    assert (row.status, row.hubspot_activity_id) == ("synced", note["id"])
