"""`sync_submission`: take one stored submission to HubSpot, exactly once in effect.

Each run claims the row, resumes from the progress it records, and settles it:
`synced`, back to `pending` for a retry, or `failed` with HubSpot's message.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dramatiq

from actors import broker as _broker  # noqa: F401  (the broker must exist before actors)
from actors import sync_control
from actors.retry_policy import RETRYABLE, epoch, last_attempt, moment, retry_options
from actors.services import call_audit, crm_service
from crm.breaker import BreakerOpen
from crm.errors import ErrorKind, HubSpotError
from crm.service import SubmissionPayload, SyncProgress, WriteInDoubt
from settings import get_settings
from storage import submissions
from storage.runner import database
from storage.tables import Submission

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker's claim on the row ran out and another worker has it now."""


@dramatiq.actor(queue_name="crm", **retry_options())
def sync_submission(submission_id: str) -> None:
    if sync_control.held_back(sync_submission, submission_id):
        return
    row = database.run(submissions.claim_for_sync(submission_id, get_settings().sync_lease))
    if row is None:
        log.info("submission %s is not pending or is held by another worker", submission_id)
        return
    with call_audit().logged_under(submission_id):
        _run_steps(row)


def _run_steps(row: Submission) -> None:
    """Resume the sync from the row's progress, then settle the row."""
    submission_id = str(row.id)

    def save(step: SyncProgress) -> None:
        columns = _progress_columns(step)
        lease_s = get_settings().sync_lease
        if not database.run(
            submissions.record_progress(submission_id, columns, row.attempts, lease_s)
        ):
            raise LeaseLost(submission_id)

    try:
        crm_service().sync(_payload(row), _progress(row), save)
    except LeaseLost:
        log.warning("submission %s was taken over by another worker; leaving it", submission_id)
    except (BreakerOpen, WriteInDoubt) as exc:
        _wait_and_resend(submission_id, exc.retry_after_s, str(exc))
    except HubSpotError as exc:
        _settle_failure(submission_id, exc)
    except Exception as exc:
        database.run(submissions.release(submission_id, "pending", f"internal error: {exc!r}"))
        raise
    else:
        database.run(submissions.mark_synced(submission_id))


def _wait_and_resend(submission_id: str, delay_s: float, reason: str) -> None:
    """HubSpot asked us to wait (429) or is paused (breaker): no retry is used up."""
    delay_s = max(delay_s, 0.1)
    database.run(submissions.release(submission_id, "pending", reason, retry_in_s=delay_s))
    sync_submission.send_with_options(args=(submission_id,), delay=int(delay_s * 1000))


def _settle_failure(submission_id: str, exc: HubSpotError) -> None:
    if exc.kind is ErrorKind.RATE_LIMITED:
        _wait_and_resend(submission_id, exc.retry_after_s or 10.0, exc.describe())
        return
    log.warning("sync of %s failed: %s", submission_id, exc.describe())
    error, correlation_id = exc.describe(), exc.correlation_id
    if exc.kind in RETRYABLE and not last_attempt():
        retry_in_s = get_settings().hubspot_max_retry_delay / 1000
        database.run(
            submissions.release(submission_id, "pending", error, correlation_id, retry_in_s)
        )
        if exc.status == 0:
            # No answer: HubSpot may still be doing the write. Look again only after it
            # has had another full timeout to land, so the retry finds it.
            delay_ms = int(get_settings().hubspot_timeout * 3000)
            raise dramatiq.Retry(exc.describe(), delay=delay_ms) from exc
        raise exc
    database.run(submissions.release(submission_id, "failed", error, correlation_id))


def _payload(row: Submission) -> SubmissionPayload:
    return SubmissionPayload(
        submission_id=str(row.id),
        form_type=row.form_type,
        contact_properties=row.contact_properties,
        deal_properties=row.deal_properties,
        summary=row.summary,
        submitted_at_ms=int(row.created_at.timestamp() * 1000),
    )


def _progress(row: Submission) -> SyncProgress:
    return SyncProgress(
        contact_id=row.hubspot_contact_id,
        deal_id=row.hubspot_deal_id,
        association_verified=row.association_verified_at is not None,
        activity_attempted_at=epoch(row.activity_attempted_at),
        activity_id=row.hubspot_activity_id,
    )


def _progress_columns(progress: SyncProgress) -> dict[Any, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        Submission.hubspot_contact_id: progress.contact_id,
        Submission.hubspot_deal_id: progress.deal_id,
        Submission.association_verified_at: now if progress.association_verified else None,
        Submission.activity_attempted_at: moment(progress.activity_attempted_at),
        Submission.hubspot_activity_id: progress.activity_id,
    }
