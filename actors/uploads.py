"""Upload jobs: `analyse_upload` reads the stored file and settles the upload, then
`record_upload_in_crm` tells the visitor's HubSpot contact, exactly once in effect.

An analysis always ends `completed` or `failed`: a file the analysis refuses fails at once
with its message, storage trouble is retried then failed, and an upload whose worker died
is taken again by `upload_housekeeping` until `MAX_ANALYSIS_ATTEMPTS`. The HubSpot update
follows the form sync's failure policy (`actors.sync`): an open breaker or a 429 puts the
job back after the wait, transient errors retry with backoff, permanent ones fail.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dramatiq
import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from dramatiq.middleware import CurrentMessage, TimeLimitExceeded

from actors import broker as _broker  # noqa: F401  (the broker must exist before actors)
from actors import sync_control
from actors.retry_policy import RETRYABLE, epoch, last_attempt, moment, retry_options
from actors.services import call_audit, crm_service
from crm.breaker import BreakerOpen
from crm.errors import ErrorKind, HubSpotError
from crm.service import FileUpload, UploadProgress, WriteInDoubt
from settings import get_settings
from storage import uploads
from storage.analysis import AnalysisError, analyse
from storage.analysis.errors import too_large
from storage.objects import object_store
from storage.runner import database
from storage.uploads import Upload

log = logging.getLogger(__name__)

#: Longest one analysis may run, in milliseconds (a 250 MB file takes well under this).
ANALYSIS_TIME_LIMIT_MS = 10 * 60 * 1000
#: Seconds a worker holds an analysis: past the time limit, so only a dead worker loses it.
ANALYSIS_LEASE_S = ANALYSIS_TIME_LIMIT_MS / 1000 + 120
#: Attempts (each a worker that took the upload) before it is failed for good.
MAX_ANALYSIS_ATTEMPTS = 3
#: Retries of an analysis that could not read storage.
STORAGE_RETRIES = 2
#: What reading storage raises when the disk or S3 fails, as opposed to the file's content.
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError, urllib3.exceptions.HTTPError)

NOT_RECEIVED = "We did not receive your file. Start a new upload and send the file again."
STORAGE_UNREADABLE = "We could not read your file from storage. Please upload it again later."
UNEXPECTED = (
    "Something went wrong while analysing this file, and our team has been told. "
    "Please try again, or upload the data as a CSV file."
)
TOO_SLOW = "Analysing this file took too long. Upload a smaller sample of the data."
ABANDONED = "The upload link expired before the file arrived. Start a new upload."


@dramatiq.actor(
    queue_name="uploads",
    max_retries=STORAGE_RETRIES,
    min_backoff=1000,
    max_backoff=30_000,
    time_limit=ANALYSIS_TIME_LIMIT_MS,
)
def analyse_upload(upload_id: str) -> None:
    row = database.run(uploads.claim_for_analysis(upload_id, ANALYSIS_LEASE_S))
    if row is None:
        log.info("upload %s is not waiting for analysis or is held by another worker", upload_id)
        return
    if row.attempts > MAX_ANALYSIS_ATTEMPTS:
        # Workers died on it again and again (killed for memory or time): stop trying.
        database.run(uploads.fail_upload(upload_id, TOO_SLOW))
        return
    try:
        results = _analyse(row)
    except AnalysisError as exc:
        database.run(uploads.fail_upload(upload_id, exc.message))
        return
    except TimeLimitExceeded:
        database.run(uploads.fail_upload(upload_id, TOO_SLOW))
        return
    except STORAGE_ERRORS as exc:
        log.warning("upload %s: storage unreadable: %r", upload_id, exc)
        if _retries_left():
            database.run(uploads.release_analysis(upload_id))
            raise
        database.run(uploads.fail_upload(upload_id, STORAGE_UNREADABLE))
        return
    except Exception:
        log.exception("analysis of upload %s failed unexpectedly", upload_id)
        database.run(uploads.fail_upload(upload_id, UNEXPECTED))
        return
    if database.run(uploads.complete_analysis(upload_id, results)):
        enqueue(record_upload_in_crm, upload_id)


def _analyse(row: Upload) -> dict[str, Any]:
    store = object_store()
    settings = get_settings()
    max_bytes = settings.upload_max_bytes
    size = store.size(row.object_key)
    if size is None:
        raise AnalysisError(NOT_RECEIVED)
    if size > max_bytes:
        raise too_large(max_bytes)
    with store.open(row.object_key) as stream:
        return analyse(
            stream,
            filename=row.filename,
            max_bytes=max_bytes,
            time_limit_s=settings.analysis_time_limit_s,
        )


def _retries_left() -> bool:
    message = CurrentMessage.get_current_message()
    return bool(message) and message.options.get("retries", 0) < STORAGE_RETRIES


def enqueue(actor: dramatiq.Actor, upload_id: Any) -> bool:
    """Queue a job; a broker failure is logged, never shown: the sweeper finds the row."""
    try:
        actor.send(str(upload_id))
    except Exception:
        log.exception("could not queue %s for upload %s", actor.actor_name, upload_id)
        return False
    return True


# The HubSpot update


@dramatiq.actor(queue_name="crm", **retry_options())
def record_upload_in_crm(upload_id: str) -> None:
    if sync_control.held_back(record_upload_in_crm, upload_id):
        return
    row = database.run(uploads.claim_for_crm(upload_id, get_settings().sync_lease))
    if row is None:
        log.info("upload %s has no HubSpot update due, or another worker holds it", upload_id)
        return
    with call_audit().logged_under(upload_id):
        _run_crm_steps(row)


def _run_crm_steps(row: Upload) -> None:
    upload_id = str(row.id)

    def save(progress: UploadProgress) -> None:
        database.run(uploads.save_crm_progress(upload_id, _progress_columns(progress)))

    upload = FileUpload(
        email=row.email,
        filename=row.filename,
        size_bytes=row.size_bytes or 0,
        uploaded_at_ms=int((row.uploaded_at or row.created_at).timestamp() * 1000),
        results_url=row.results_url,
        contact_snapshot=lambda: database.run(uploads.contact_snapshot(row.email)),
    )
    results = database.run(uploads.get_results(upload_id)) or {}
    try:
        crm_service().update_contact_with_file_upload(
            upload_id, results, upload=upload, progress=_progress(row), save=save
        )
    except (BreakerOpen, WriteInDoubt) as exc:
        _wait_and_resend(upload_id, exc.retry_after_s, str(exc))
    except HubSpotError as exc:
        _settle_failure(upload_id, exc)
    except Exception as exc:
        database.run(uploads.release_crm(upload_id, "pending", f"internal error: {exc!r}"))
        raise
    else:
        database.run(uploads.mark_crm_synced(upload_id))


def _wait_and_resend(upload_id: str, delay_s: float, reason: str) -> None:
    """HubSpot asked us to wait (429) or is paused (breaker): no retry is used up."""
    delay_s = max(delay_s, 0.1)
    database.run(uploads.release_crm(upload_id, "pending", reason, retry_in_s=delay_s))
    record_upload_in_crm.send_with_options(args=(upload_id,), delay=int(delay_s * 1000))


def _settle_failure(upload_id: str, exc: HubSpotError) -> None:
    if exc.kind is ErrorKind.RATE_LIMITED:
        _wait_and_resend(upload_id, exc.retry_after_s or 10.0, exc.describe())
        return
    log.warning("HubSpot update of upload %s failed: %s", upload_id, exc.describe())
    error, correlation_id = exc.describe(), exc.correlation_id
    if exc.kind in RETRYABLE and not last_attempt():
        retry_in_s = get_settings().hubspot_max_retry_delay / 1000
        database.run(uploads.release_crm(upload_id, "pending", error, correlation_id, retry_in_s))
        if exc.status == 0:
            # No answer: the write may still land; look again once it has had time to.
            raise dramatiq.Retry(error, delay=int(get_settings().hubspot_timeout * 2000)) from exc
        raise exc
    database.run(uploads.release_crm(upload_id, "failed", error, correlation_id))


def _progress(row: Upload) -> UploadProgress:
    return UploadProgress(
        contact_id=row.hubspot_contact_id,
        # Re-checked on every run: a cheap read, and a resumed run may follow new uploads.
        properties_current=False,
        activity_attempted_at=epoch(row.activity_attempted_at),
        activity_id=row.hubspot_activity_id,
    )


def _progress_columns(progress: UploadProgress) -> dict[Any, Any]:
    return {
        Upload.hubspot_contact_id: progress.contact_id,
        Upload.activity_attempted_at: moment(progress.activity_attempted_at),
        Upload.hubspot_activity_id: progress.activity_id,
    }


# Housekeeping


def upload_housekeeping() -> dict[str, int]:
    """The periodic job: re-queue lost work, fail abandoned uploads, purge old files."""
    settings = get_settings()
    grace_s = settings.sweep_grace
    analyses = database.run(uploads.stale_analysis_ids(grace_s))
    for upload_id in analyses:
        enqueue(analyse_upload, upload_id)
    # While syncing is paused the updates wait for the resume, which queues them.
    crm_updates = [] if sync_control.is_paused() else database.run(uploads.stale_crm_ids(grace_s))
    for upload_id in crm_updates:
        enqueue(record_upload_in_crm, upload_id)
    abandoned = database.run(uploads.expire_abandoned(grace_s, ABANDONED))
    purged = purge_expired_uploads(settings.upload_retention_days)
    counts = {
        "analyses": len(analyses),
        "crm_updates": len(crm_updates),
        "abandoned": abandoned,
        "purged": purged,
    }
    if any(counts.values()):
        log.info("upload housekeeping: %s", counts)
    return counts


def purge_expired_uploads(retention_days: float) -> int:
    """Delete the files and analyses of uploads older than `retention_days`."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    store = object_store()
    purged = 0
    for upload_id, key in database.run(uploads.purgeable(cutoff)):
        try:
            store.delete(key)
        except Exception:
            log.exception("could not delete the file of upload %s; next run tries again", upload_id)
            continue
        database.run(uploads.mark_purged(upload_id))
        purged += 1
    return purged
