"""Submission rows on SQLite and PostgreSQL: stored whole, claimed by one worker at a time."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

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


def _claim(limit: int = 100, first: str | None = None) -> submissions.Batch | None:
    return asyncio.run(submissions.claim_batch(limit, 60, first))


def _ids(batch: submissions.Batch | None) -> list[str]:
    return [str(row.id) for row in batch.rows] if batch else []


def _age(submission_id: str, seconds: float) -> None:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    Submission.update({Submission.created_at: moment}).where(
        Submission.id == submission_id
    ).run_sync()


def test_only_one_claim_wins_while_the_lease_is_live(any_db: str) -> None:
    submission_id = _create()

    async def claim_twice():
        return await asyncio.gather(
            submissions.claim_batch(10, 60, submission_id),
            submissions.claim_batch(10, 60, submission_id),
        )

    first, second = asyncio.run(claim_twice())

    assert [first is not None, second is not None].count(True) == 1
    row = asyncio.run(submissions.get_submission(submission_id))
    assert row.status == "syncing" and row.attempts == 1
    assert row.batch_id == (first or second).id


def test_a_claim_takes_the_due_rows_the_newest_few_first_then_the_oldest(any_db: str) -> None:
    old = [_create(email=f"old{n}@example.com") for n in range(4)]
    for n, submission_id in enumerate(old):
        _age(submission_id, 600 - n)
    fresh = [_create(email=f"new{n}@example.com") for n in range(3)]
    later = _create(email="later@example.com")
    Submission.update(
        {Submission.next_attempt_at: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)}
    ).where(Submission.id == later).run_sync()

    batch = _claim(limit=4)

    # Half the batch for the newest (a visitor's lead never queues behind a backlog),
    # the rest for the oldest; a row whose retry is not due yet stays.
    assert _ids(batch) == [fresh[2], fresh[1], old[0], old[1]]
    assert _ids(_claim(limit=10)) == [fresh[0], old[2], old[3]]
    assert _claim() is None


def test_a_named_row_comes_first_even_before_its_due_time(any_db: str) -> None:
    others = [_create(email=f"o{n}@example.com") for n in range(3)]
    named = _create(email="named@example.com")
    Submission.update(
        {Submission.next_attempt_at: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)}
    ).where(Submission.id == named).run_sync()

    batch = _claim(limit=2, first=named)

    assert _ids(batch)[0] == named and len(batch.rows) == 2 and set(_ids(batch)) < {named, *others}


def test_an_email_a_live_batch_holds_is_left_to_it(any_db: str) -> None:
    first = _create(email="sam@example.com")
    held = _claim(first=first)
    second = _create(email="sam@example.com")
    other = _create(email="kim@example.com")

    assert _ids(_claim()) == [other]
    asyncio.run(
        submissions.settle_batch(held.id, {held.rows[0].id: submissions.Settlement("synced")})
    )
    assert _ids(_claim()) == [second]


def test_an_expired_lease_can_be_claimed_again_and_fences_off_the_old_holder(any_db: str) -> None:
    submission_id = _create()
    old = _claim()
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    Submission.update({Submission.lease_until: expired}).where(
        Submission.id == submission_id
    ).run_sync()

    again = _claim()
    progress = {old.rows[0].id: {Submission.hubspot_contact_id: "1"}}
    kept = asyncio.run(submissions.record_progress(old.id, progress, 60))

    assert again is not None and again.rows[0].attempts == 2
    assert kept == set()
    assert asyncio.run(submissions.get_submission(submission_id)).hubspot_contact_id is None


def test_synced_and_failed_rows_are_not_claimed(any_db: str) -> None:
    synced, failed = _create(), _create(email="other@example.com")
    batch = _claim()
    ids = {str(row.id): row.id for row in batch.rows}
    asyncio.run(
        submissions.settle_batch(
            batch.id,
            {
                ids[synced]: submissions.Settlement("synced"),
                ids[failed]: submissions.Settlement("failed", "boom", "corr-1", retries=3),
            },
        )
    )

    assert _claim(first=synced) is None
    assert _claim(first=failed) is None
    row = asyncio.run(submissions.get_submission(failed))
    assert (row.last_error, row.last_error_correlation_id, row.retries) == ("boom", "corr-1", 3)
    assert asyncio.run(submissions.get_submission(synced)).synced_at is not None


def test_progress_renews_the_whole_batchs_lease(any_db: str) -> None:
    moved, waiting = _create(), _create(email="other@example.com")
    batch = _claim(first=moved)
    ids = {str(row.id): row.id for row in batch.rows}
    assert set(ids) == {moved, waiting}

    kept = asyncio.run(
        submissions.record_progress(
            batch.id, {ids[moved]: {Submission.hubspot_contact_id: "7"}}, 600
        )
    )

    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=500)
    assert kept == {ids[moved]}
    assert asyncio.run(submissions.get_submission(moved)).hubspot_contact_id == "7"
    assert all(asyncio.run(submissions.get_submission(i)).lease_until > later for i in ids)


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
    batch = _claim()
    changes = {batch.rows[0].id: {Submission.hubspot_activity_id: event_id}}

    assert asyncio.run(submissions.record_progress(batch.id, changes, 60))
    HubSpotCall(
        operation="create_timeline_events",
        status=200,
        outcome="ok",
        duration_ms=1.0,
        object_id=event_id,
    ).save().run_sync()
    assert asyncio.run(submissions.get_submission(submission_id)).hubspot_activity_id == event_id
    assert HubSpotCall.select(HubSpotCall.object_id).first().run_sync()["object_id"] == event_id


@pytest.mark.postgres
def test_on_postgresql_a_claim_skips_rows_another_transaction_locked(postgres: str) -> None:
    locked, free = _create(), _create(email="free@example.com")

    async def claim_while_locked() -> submissions.Batch | None:
        connection = await asyncpg.connect(postgres)
        try:
            async with connection.transaction():
                await connection.execute(
                    "SELECT id FROM submissions WHERE id = $1 FOR UPDATE", uuid.UUID(locked)
                )
                return await asyncio.wait_for(submissions.claim_batch(10, 60), timeout=5)
        finally:
            await connection.close()

    batch = asyncio.run(claim_while_locked())

    assert _ids(batch) == [free]
    assert _ids(_claim()) == [locked]
