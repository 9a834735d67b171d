"""Pausing syncing: rows wait `pending` without a HubSpot call or a used retry, nothing
re-queues them meanwhile, and the resume (or a bulk retry) queues each one again."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

import pytest

from actors import maintenance, sync_control
from actors.broker import broker
from actors.requeue import queue_waiting_work, retry_failed_submissions
from actors.sync import sync_submission
from actors.uploads import analyse_upload, record_upload_in_crm, upload_housekeeping
from storage import uploads
from storage.listing import hubspot_calls
from storage.submissions import get_submission
from storage.tables import Submission
from storage.uploads import Upload
from tests.storage.stored_uploads import stored_upload
from web.submit import accept_submission

FORM = {
    "email": "sam@example.com",
    "firstName": "Sam",
    "lastName": "Lee",
    "company": "Acme",
    "country": "DE",
    "serviceInterests": ["Data Collection"],
}


def _store(**overrides) -> str:
    accepted = asyncio.run(accept_submission("contact", FORM | overrides))
    assert accepted.ok, accepted.errors
    return str(accepted.submission_id)


def _queued(queue: str = "crm") -> list[str]:
    """The first argument of every message waiting in `queue` (delayed ones included)."""
    ids = []
    for key in (f"dramatiq:{queue}.msgs", f"dramatiq:{queue}.DQ.msgs"):
        ids += [json.loads(payload)["args"][0] for payload in broker.client.hvals(key)]
    return ids


def _empty_queues() -> None:
    broker.client.delete("dramatiq:crm.msgs", "dramatiq:crm.DQ.msgs", "dramatiq:crm")


def _status(submission_id: str) -> str:
    return asyncio.run(get_submission(submission_id)).status


def _age(*submission_ids: str) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    Submission.update({Submission.updated_at: past}).where(
        Submission.id.is_in([uuid.UUID(i) for i in submission_ids])
    ).run_sync()


@pytest.fixture
def paused(db, sandbox):
    """Syncing paused, with an empty queue."""
    assert sync_control.pause() is True
    _empty_queues()
    yield
    sync_control.resume()


def test_the_switch_says_when_it_was_paused(db, sandbox) -> None:
    assert sync_control.is_paused() is False and sync_control.paused_since() is None

    assert sync_control.pause() is True
    since = sync_control.paused_since()
    assert sync_control.pause() is False, "a second pause keeps the first one's time"

    assert sync_control.is_paused() and sync_control.paused_since() == since
    assert since is not None and abs(since.timestamp() - time.time()) < 5
    assert sync_control.resume() is True and sync_control.resume() is False


def test_while_paused_a_sync_leaves_the_row_pending_without_calling_hubspot(paused, sandbox):
    submission_id = _store()
    _empty_queues()
    calls = len(sandbox.request_log)

    sync_submission(submission_id)

    row = asyncio.run(get_submission(submission_id))
    assert row.status == "pending" and row.attempts == 0 and row.last_error is None
    assert len(sandbox.request_log) == calls
    assert _queued() == [], "the message is dropped, not put back to spin"


def test_while_paused_the_sweeper_queues_nothing(paused) -> None:
    submission_id = _store()
    _empty_queues()
    _age(submission_id)

    assert maintenance.sweep_stale_submissions() == 0

    sync_control.resume()
    assert maintenance.sweep_stale_submissions() == 1


def test_the_resume_queues_every_waiting_row_once(paused) -> None:
    waiting = [_store(email=f"p{n}@example.com") for n in range(3)]
    synced = _store(email="done@example.com")
    Submission.update({Submission.status: "synced"}).where(
        Submission.id == uuid.UUID(synced)
    ).run_sync()
    _empty_queues()
    _age(*waiting)

    sync_control.resume()
    queue_waiting_work()

    # One wake-up drains them all, a batch at a time; each row is due now.
    assert len(_queued()) == 1 and _queued()[0] in waiting
    now = dt.datetime.now(dt.UTC)
    assert all(asyncio.run(get_submission(i)).next_attempt_at <= now for i in waiting)
    assert maintenance.sweep_stale_submissions() == 0, "the sweeper leaves them to the resume"


def test_waiting_rows_sync_once_their_messages_run(paused, sandbox) -> None:
    submission_id = _store()
    sync_control.resume()
    _empty_queues()

    queue_waiting_work()
    for queued in _queued():
        sync_submission(queued)

    assert _status(submission_id) == "synced"
    assert len(sandbox.contacts()) == 1


def test_a_bulk_retry_reopens_the_failed_rows_and_they_sync(db, sandbox) -> None:
    from actors.services import hubspot_client, property_map
    from crm.setup import set_up_portal

    sandbox.reset()  # a portal without our custom properties: HubSpot answers 400
    submission_id = _store()
    sync_submission(submission_id)
    assert _status(submission_id) == "failed"
    set_up_portal(hubspot_client(), property_map())
    _empty_queues()

    retry_failed_submissions(time.time())

    assert _queued() == [submission_id] and _status(submission_id) == "pending"
    sync_submission(submission_id)
    assert _status(submission_id) == "synced"


def test_a_bulk_retry_while_paused_reopens_rows_for_the_resume(paused) -> None:
    submission_id = _store()
    Submission.update({Submission.status: "failed"}).where(
        Submission.id == uuid.UUID(submission_id)
    ).run_sync()
    _empty_queues()

    retry_failed_submissions(time.time())

    assert _status(submission_id) == "pending" and _queued() == []
    sync_control.resume()
    queue_waiting_work()
    assert _queued() == [submission_id]


def _analysed(email: str = "ann@example.com") -> str:
    """An upload whose file is stored, analysed by the actor."""
    upload_id = stored_upload(b"id,name\n1,Ann\n2,Bob\n", email=email)
    analyse_upload(upload_id)
    return upload_id


def test_while_paused_uploads_are_analysed_but_hubspot_waits(paused, sandbox) -> None:
    upload_id = _analysed()
    calls = len(sandbox.request_log)

    record_upload_in_crm(upload_id)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    Upload.update({Upload.updated_at: past}).where(Upload.id == uuid.UUID(upload_id)).run_sync()
    _empty_queues()
    housekeeping = upload_housekeeping()

    row = asyncio.run(uploads.get_upload(upload_id))
    assert (row.status, row.crm_status, row.crm_attempts) == ("completed", "pending", 0)
    assert len(sandbox.request_log) == calls and housekeeping["crm_updates"] == 0
    sync_control.resume()
    queue_waiting_work()
    assert _queued() == [upload_id]


def test_an_uploads_calls_are_logged_under_it_not_the_last_sync(db, sandbox) -> None:
    def calls_of(record_id: str) -> int:
        return len(asyncio.run(hubspot_calls(uuid.UUID(record_id))))

    submission_id = _store()
    sync_submission(submission_id)  # on this thread, just before the upload's update
    upload_id = _analysed(email=FORM["email"])
    sync_calls = calls_of(submission_id)

    record_upload_in_crm(upload_id)

    assert asyncio.run(uploads.get_upload(upload_id)).crm_status == "synced"
    assert calls_of(upload_id) > 0
    assert calls_of(submission_id) == sync_calls
