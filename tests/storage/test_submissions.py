"""Submission rows on SQLite and PostgreSQL: stored whole, claimed by one worker at a time."""

from __future__ import annotations

import asyncio
import datetime as dt

from storage import submissions
from storage.tables import Submission


def _create(**overrides) -> str:
    fields = {
        "form_type": "contact",
        "email": "jane@example.com",
        "raw_fields": {"email": "Jane@Example.com", "serviceInterests": ["a", "b"]},
        "contact_properties": {"email": "jane@example.com"},
        "deal_properties": {"dealname": "Acme"},
        "summary": {"Work e-mail": "jane@example.com"},
    } | overrides
    return str(asyncio.run(submissions.create_submission(**fields)))


def test_a_stored_submission_keeps_every_raw_field_and_starts_pending(any_db: str) -> None:
    submission_id = _create()

    row = asyncio.run(submissions.get_submission(submission_id))

    assert row is not None
    assert row.status == "pending" and row.attempts == 0
    assert row.raw_fields == {"email": "Jane@Example.com", "serviceInterests": ["a", "b"]}
    assert row.contact_properties == {"email": "jane@example.com"}
    assert row.created_at.tzinfo is not None


def test_only_one_claim_wins_while_the_lease_is_live(any_db: str) -> None:
    submission_id = _create()

    async def claim_twice():
        return await asyncio.gather(
            submissions.claim_for_sync(submission_id, 60),
            submissions.claim_for_sync(submission_id, 60),
        )

    first, second = asyncio.run(claim_twice())

    assert [first is not None, second is not None].count(True) == 1
    row = asyncio.run(submissions.get_submission(submission_id))
    assert row.status == "syncing" and row.attempts == 1


def test_an_expired_lease_can_be_claimed_again(any_db: str) -> None:
    submission_id = _create()
    asyncio.run(submissions.claim_for_sync(submission_id, 60))
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    asyncio.run(submissions.save_progress(submission_id, {Submission.lease_until: expired}))

    again = asyncio.run(submissions.claim_for_sync(submission_id, 60))

    assert again is not None and again.attempts == 2


def test_synced_and_failed_rows_are_not_claimed(any_db: str) -> None:
    synced, failed = _create(), _create(email="other@example.com")
    asyncio.run(submissions.mark_synced(synced))
    asyncio.run(submissions.release(failed, "failed", "boom", "corr-1"))

    assert asyncio.run(submissions.claim_for_sync(synced, 60)) is None
    assert asyncio.run(submissions.claim_for_sync(failed, 60)) is None
    row = asyncio.run(submissions.get_submission(failed))
    assert (row.last_error, row.last_error_correlation_id) == ("boom", "corr-1")


def _failed(minutes_ago: float) -> str:
    submission_id = _create()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    changes = {Submission.status: "failed", Submission.updated_at: past}
    Submission.update(changes).where(Submission.id == submission_id).run_sync()
    return submission_id


def _status(submission_id: str) -> str:
    return asyncio.run(submissions.get_submission(submission_id)).status


def test_the_retry_lever_reopens_only_a_failed_row(any_db: str) -> None:
    failed, pending = _failed(5), _create()

    assert asyncio.run(submissions.retry_failed(failed)) is True
    assert asyncio.run(submissions.retry_failed(pending)) is False
    assert asyncio.run(submissions.retry_failed(failed)) is False, "it is pending now"
    row = asyncio.run(submissions.get_submission(failed))
    assert row.status == "pending" and row.next_attempt_at is None


def test_a_bulk_retry_takes_each_row_failed_before_the_lever_once(any_db: str) -> None:
    old = [_failed(60 - n) for n in range(3)]
    lever_pulled = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    failed_since = _failed(0)

    batches = [asyncio.run(submissions.reopen_failed(lever_pulled, limit=2)) for _ in range(3)]

    # Oldest first across batches; within one, the order of an UPDATE … RETURNING is unset.
    assert [sorted(str(i) for i in batch) for batch in batches] == [
        sorted(old[:2]),
        old[2:],
        [],
    ]
    assert [_status(i) for i in old] == ["pending"] * 3
    assert _status(failed_since) == "failed", "failed after the lever: not this retry's"
    assert asyncio.run(submissions.count_failed()) == 1


def test_rows_due_before_a_moment_are_claimed_in_batches_then_no_more(any_db: str) -> None:
    waiting = [_create() for _ in range(3)]
    cutoff = dt.datetime.now(dt.UTC)
    newer = _create()

    batches = [asyncio.run(submissions.claim_due_submissions(cutoff, limit=2)) for _ in range(3)]

    assert sorted(str(i) for batch in batches for i in batch) == sorted(waiting)
    assert [len(batch) for batch in batches] == [2, 1, 0]
    assert asyncio.run(submissions.get_submission(newer)).next_attempt_at is None


def test_a_timeline_event_id_fits_the_row_and_the_call_log(any_db: str) -> None:
    """With HUBSPOT_APP_ID set the activity is our own event id, `submission-<uuid>`."""
    from storage.tables import HubSpotCall

    submission_id = _create()
    event_id = f"submission-{submission_id}"
    claimed = asyncio.run(submissions.claim_for_sync(submission_id, 60))
    changes = {Submission.hubspot_activity_id: event_id}

    assert asyncio.run(submissions.record_progress(submission_id, changes, claimed.attempts, 60))
    HubSpotCall(
        operation="create_timeline_event",
        status=200,
        outcome="ok",
        duration_ms=1.0,
        object_id=event_id,
    ).save().run_sync()
    assert asyncio.run(submissions.get_submission(submission_id)).hubspot_activity_id == event_id
    assert HubSpotCall.select(HubSpotCall.object_id).first().run_sync()["object_id"] == event_id
