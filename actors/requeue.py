"""Bulk re-queueing for the dashboard's levers: retry every failed submission, and queue
what waited while syncing was paused. Jobs, in batches, so a lever answers at once
however many thousand rows it moves."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import dramatiq

from actors import broker as _broker  # noqa: F401  (the broker must exist before actors)
from actors import sync_control
from actors.sync import wake_up
from actors.uploads import enqueue, record_upload_in_crm
from storage import submissions, uploads
from storage.runner import database

log = logging.getLogger(__name__)

#: Rows moved and queued per database round trip.
BATCH_SIZE = 500
#: Own queue, so a lever's job never waits behind thousands of sync messages.
QUEUE = "admin"


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def retry_failed_submissions(failed_before_s: float) -> None:
    """Queue every submission that failed before `failed_before_s` (epoch seconds)."""
    cutoff = dt.datetime.fromtimestamp(failed_before_s, dt.UTC)
    count = _queue_batches(lambda: submissions.reopen_failed(cutoff, BATCH_SIZE))
    log.info("retrying %d failed submission(s)", count)


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def queue_waiting_work() -> None:
    """After a resume: queue every pending submission and HubSpot update of an upload.

    Uploads get one batch; the periodic housekeeping queues any beyond it.
    """
    cutoff = dt.datetime.now(dt.UTC)
    count = _queue_batches(lambda: submissions.claim_due_submissions(cutoff, BATCH_SIZE))
    updates = database.run(uploads.stale_crm_ids(0.0, BATCH_SIZE))
    for upload_id in updates:
        enqueue(record_upload_in_crm, upload_id)
    log.info("resumed: queued %d submission(s), %d upload update(s)", count, len(updates))


def _queue_batches(next_batch: Callable[[], Coroutine[Any, Any, list[uuid.UUID]]]) -> int:
    """Move every batch `next_batch` finds to `pending`, waking a drain for it while
    syncing runs; while paused the rows wait for the resume to queue them. Returns the count."""
    count = 0
    while ids := database.run(next_batch()):
        if not sync_control.is_paused():
            wake_up(ids[0])  # one drain per batch moved: a worker per free batch slot
        count += len(ids)
    return count
