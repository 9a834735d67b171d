"""Erasing a person: everything held here at once, then HubSpot's GDPR delete as a job.

`erase_person` deletes the rows and the uploaded files, records the erasure and queues
`erase_from_hubspot`, all or nothing. HubSpot deletes by e-mail, so the e-mail sits in that
job's message (in Redis) until HubSpot has answered: we keep no other copy, and the audit
trail keeps only its SHA-256. For the same reason the job never raises: Dramatiq would log
the message, e-mail included, and dead-letter it for a week. It retries by sending itself
again instead, within the shared retry policy, and records how it ended
(`erase_person_hubspot`): deleted, not found (already gone), or failed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import dramatiq
from dramatiq.common import compute_backoff

from actors import broker as _broker  # noqa: F401  (the broker must exist before actors)
from actors.retry_policy import RETRYABLE, retry_options
from actors.services import call_audit, circuit_breaker, hubspot_client
from actors.uploads import STORAGE_ERRORS
from crm.breaker import BreakerOpen
from crm.errors import ErrorKind, HubSpotError
from storage import people
from storage.admin import Admin, record_action
from storage.objects import object_store
from storage.people import Erased
from storage.runner import database

log = logging.getLogger(__name__)

#: Audit-trail actions; each one's target is the SHA-256 of the e-mail.
ERASE = "erase_person"
HUBSPOT_OUTCOME = "erase_person_hubspot"
EXPORT = "export_person"

STORAGE_DOWN = (
    "The uploaded files could not be deleted: file storage did not answer. Nothing was "
    "deleted. Try again in a few minutes."
)
QUEUE_DOWN = (
    "The HubSpot deletion could not be queued: the job queue did not answer. Nothing was "
    "deleted. Try again in a few minutes."
)
#: Seconds to wait on a 429 that names no wait.
RATE_LIMIT_WAIT_S = 10.0


class ErasureFailed(Exception):
    """The erasure was rolled back; the message says why and what to do."""


async def erase_person(email: str, admin: Admin) -> Erased:
    """Delete everything held about `email` and queue its HubSpot deletion, all or nothing.

    Raises `storage.people.PersonBusy` or `ErasureFailed`: then no row was deleted (a file
    may have been, which a second attempt finishes).
    """
    async with people.erase(email) as erased:
        await asyncio.to_thread(_delete_files, erased.object_keys)
        detail = {
            "deleted": erased.counts,
            "files_deleted": len(erased.object_keys),
            # HubSpot's GDPR delete takes the contact only: its deals and their notes stay.
            "hubspot_ids": erased.hubspot_ids,
            "hubspot": "queued",
        }
        await record_action(admin, ERASE, people.email_hash(email), detail)
        await asyncio.to_thread(_queue, email, admin)
    return erased


def _delete_files(object_keys: list[str]) -> None:
    store = object_store()
    try:
        for key in object_keys:
            store.delete(key)
    except STORAGE_ERRORS as exc:
        log.exception("could not delete an uploaded file of an erased person")
        raise ErasureFailed(STORAGE_DOWN) from exc


def _queue(email: str, admin: Admin) -> None:
    try:
        erase_from_hubspot.send(email, admin.user_id, admin.username)
    except Exception as exc:
        log.exception("could not queue a HubSpot deletion")
        raise ErasureFailed(QUEUE_DOWN) from exc


# The HubSpot deletion


@dataclass(frozen=True)
class _Job:
    email: str
    admin: Admin
    #: Failed attempts so far; retries stop at the shared policy's `max_retries`.
    attempt: int

    @property
    def label(self) -> str:
        """How logs name the job: a prefix of the e-mail's hash, never the e-mail."""
        return people.email_hash(self.email)[:12]


@dramatiq.actor(queue_name="crm", max_retries=0)
def erase_from_hubspot(email: str, user_id: int, username: str, attempt: int = 0) -> None:
    """GDPR-delete the HubSpot contact of `email`, then record the outcome for `username`."""
    job = _Job(email, Admin(user_id, username), attempt)
    try:
        _run(job)
    except Exception:
        log.exception("HubSpot deletion %s failed unexpectedly", job.label)
        _retry(job, "internal error")


def _run(job: _Job) -> None:
    if (paused_s := circuit_breaker().remaining_open_s()) > 0:
        # HubSpot is known to be down: come back when the breaker lets probes through.
        _send(job, job.attempt, paused_s)
        return
    try:
        hubspot_client().gdpr_delete_contact(job.email)
    except BreakerOpen as exc:
        _send(job, job.attempt, exc.retry_after_s)
    except HubSpotError as exc:
        _settle_failure(job, exc)
    else:
        _record(job, "deleted")
    finally:
        database.run(call_audit().flush())


def _settle_failure(job: _Job, exc: HubSpotError) -> None:
    if exc.status == 404:
        # HubSpot holds no such contact (any more): there is nothing left to delete.
        _record(job, "not_found")
    elif exc.kind is ErrorKind.RATE_LIMITED:
        _send(job, job.attempt, exc.retry_after_s or RATE_LIMIT_WAIT_S)
    elif exc.kind in RETRYABLE:
        _retry(job, exc.describe())
    else:
        _record(job, "failed", exc.describe())


def _retry(job: _Job, error: str) -> None:
    """Send the job again after the shared policy's backoff, or record the failure."""
    policy = retry_options()
    if job.attempt >= policy["max_retries"]:
        _record(job, "failed", error)
        return
    _, delay_ms = compute_backoff(
        job.attempt, factor=policy["min_backoff"], max_backoff=policy["max_backoff"]
    )
    log.warning(
        "HubSpot deletion %s failed, retrying in %d ms: %s",
        job.label,
        delay_ms,
        _scrub(error, job.email),
    )
    _send(job, job.attempt + 1, delay_ms / 1000)


def _send(job: _Job, attempt: int, delay_s: float) -> None:
    erase_from_hubspot.send_with_options(
        args=(job.email, job.admin.user_id, job.admin.username, attempt),
        delay=int(max(delay_s, 0.1) * 1000),
    )


def _record(job: _Job, outcome: str, error: str | None = None) -> None:
    detail: dict[str, object] = {"hubspot": outcome, "attempts": job.attempt + 1}
    if error:
        detail["error"] = _scrub(error, job.email)
    log.info("HubSpot deletion %s: %s", job.label, outcome)
    database.run(record_action(job.admin, HUBSPOT_OUTCOME, people.email_hash(job.email), detail))


def _scrub(text: str, email: str) -> str:
    """`text` without the e-mail, which HubSpot's messages may quote."""
    return re.sub(re.escape(people.normalise(email)), "[e-mail]", text, flags=re.IGNORECASE)
