"""The sweeper re-queues what a lost message left behind, and nothing else."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from actors import maintenance
from actors.broker import broker
from storage import submissions
from storage.tables import Submission
from web.submit import accept_submission

FORM = {
    "email": "kim@example.com",
    "firstName": "Kim",
    "lastName": "Park",
    "company": "Initech",
    "country": "KR",
    "serviceInterests": ["Data Collection"],
}


def _queued_ids() -> list[str]:
    return [payload.decode() for payload in broker.client.hvals("dramatiq:crm.msgs")]


def _age(submission_id, seconds: float, columns: dict | None = None) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    changes = {Submission.updated_at: past} | (columns or {})
    Submission.update(changes).where(Submission.id == submission_id).run_sync()


@pytest.fixture
def stored(db, sandbox, monkeypatch: pytest.MonkeyPatch):
    """A submission whose message never reached the broker (Redis was down)."""

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("actors.sync.sync_submission.send", broker_down)
    accepted = asyncio.run(accept_submission("contact", FORM))
    monkeypatch.undo()
    assert accepted.ok and not accepted.queued
    return accepted.submission_id


def test_a_submission_whose_message_was_lost_is_queued_after_the_grace(stored) -> None:
    _age(stored, 3600)

    assert maintenance.sweep_stale_submissions() == 1
    assert any(str(stored) in payload for payload in _queued_ids())


def test_a_fresh_pending_submission_is_left_to_its_message(stored) -> None:
    assert maintenance.sweep_stale_submissions() == 0


def test_a_scheduled_retry_is_not_swept_before_it_is_due(stored) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    _age(stored, 3600, {Submission.next_attempt_at: later})

    assert maintenance.sweep_stale_submissions() == 0


def _claim(first) -> submissions.Batch | None:
    return asyncio.run(submissions.claim_batch(1, 60, first))


def test_a_submission_held_by_a_dead_worker_is_swept_when_its_lease_ends(stored) -> None:
    _claim(stored)
    assert maintenance.sweep_stale_submissions() == 0

    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _age(stored, 0, {Submission.lease_until: expired})

    assert maintenance.sweep_stale_submissions() == 1


def test_synced_submissions_are_never_swept(stored) -> None:
    batch = _claim(stored)
    asyncio.run(submissions.settle_batch(batch.id, {stored: submissions.Settlement("synced")}))
    _age(stored, 3600)

    assert maintenance.sweep_stale_submissions() == 0


def test_a_swept_submission_waits_a_full_grace_before_it_is_swept_again(stored) -> None:
    _age(stored, 3600)
    assert maintenance.sweep_stale_submissions() == 1

    assert maintenance.sweep_stale_submissions() == 0


def test_a_swept_dead_workers_submission_can_be_claimed_again(stored) -> None:
    _claim(stored)
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _age(stored, 0, {Submission.lease_until: expired})
    maintenance.sweep_stale_submissions()

    assert _claim(stored) is not None
