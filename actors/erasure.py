"""Erasing a person: everything held here at once, then HubSpot's side as a job.

`erase_person` deletes the rows and the uploaded files, records the erasure and queues
`erase_from_hubspot`, all or nothing. HubSpot's GDPR delete takes the contact only, so the
job first archives the notes and deals made for the person, then GDPR-deletes the contact:
until that last step whatever is left still hangs on a contact people in HubSpot can see,
and "deleted" means all of it is gone. Every step is safe to repeat (HubSpot answers 204
for an object already gone), so a retry starts over. The note and deal ids travel in the
message (they are not personal data), with those of the person's earlier erasures, so
asking again after a failure still reaches objects whose rows are gone. Archived objects
stay in HubSpot's recycle bin for 90 days; custom timeline events (`HUBSPOT_APP_ID`) cannot
be deleted through the API.

HubSpot deletes the contact by e-mail, so the e-mail sits in that job's message (in Redis)
until HubSpot has answered: we keep no other copy, and the audit trail keeps only its
SHA-256. For the same reason the job never raises: Dramatiq would log the message, e-mail
included, and dead-letter it for a week. It retries by sending itself again instead, within
the shared retry policy, and records how it ended (`erase_person_hubspot`): deleted, not
found (the contact was already gone), or failed, with the notes and deals it archived.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
        hashed = people.email_hash(email)
        earlier = await people.trail(hashed)
        detail = {
            "deleted": erased.counts,
            "files_deleted": len(erased.object_keys),
            # HubSpot's GDPR delete takes the contact only: the job archives these deals
            # and notes itself, and a later erasure of the address reads them from here.
            "hubspot_ids": erased.hubspot_ids,
            "hubspot": "queued",
        }
        await record_action(admin, ERASE, hashed, detail)
        objects = _objects_to_archive(erased.hubspot_ids, earlier)
        await asyncio.to_thread(_queue, email, admin, objects)
    return erased


def _delete_files(object_keys: list[str]) -> None:
    store = object_store()
    try:
        for key in object_keys:
            store.delete(key)
    except STORAGE_ERRORS as exc:
        log.exception("could not delete an uploaded file of an erased person")
        raise ErasureFailed(STORAGE_DOWN) from exc


def _objects_to_archive(
    hubspot_ids: Mapping[str, list[str]], trail: Sequence[dict[str, Any]]
) -> dict[str, list[str]]:
    """The note and deal ids of this erasure and of the earlier ones in the person's
    `trail`, each once: the job's kwargs.

    An activity is a note unless it is a custom timeline event, whose id is our own
    (`submission-…`) where HubSpot's object ids are numbers; the API cannot delete those.
    """
    recorded = [hubspot_ids]
    recorded += [
        (row["detail"] or {}).get("hubspot_ids") or {} for row in trail if row["action"] == ERASE
    ]
    notes = {i for ids in recorded for i in ids.get("activities") or [] if i.isdigit()}
    deals = {i for ids in recorded for i in ids.get("deals") or []}
    return {"note_ids": sorted(notes), "deal_ids": sorted(deals)}


def _queue(email: str, admin: Admin, objects: dict[str, list[str]]) -> None:
    try:
        erase_from_hubspot.send(email, admin.user_id, admin.username, **objects)
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
    note_ids: tuple[str, ...] = ()
    deal_ids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How logs name the job: a prefix of the e-mail's hash, never the e-mail."""
        return people.email_hash(self.email)[:12]


@dataclass
class _Archived:
    """What this run archived so far; the outcome reports it however the run ends."""

    notes: int = 0
    deals: int = 0


@dramatiq.actor(queue_name="crm", max_retries=0)
def erase_from_hubspot(
    email: str,
    user_id: int,
    username: str,
    attempt: int = 0,
    note_ids: Sequence[str] = (),
    deal_ids: Sequence[str] = (),
) -> None:
    """Archive the notes and deals made for `email`, GDPR-delete its HubSpot contact, then
    record the outcome for `username`."""
    job = _Job(email, Admin(user_id, username), attempt, tuple(note_ids), tuple(deal_ids))
    archived = _Archived()
    try:
        _run(job, archived)
    except Exception:
        log.exception("HubSpot deletion %s failed unexpectedly", job.label)
        _retry(job, archived, "internal error")


def _run(job: _Job, archived: _Archived) -> None:
    if (paused_s := circuit_breaker().remaining_open_s()) > 0:
        # HubSpot is known to be down: come back when the breaker lets probes through.
        _send(job, job.attempt, paused_s)
        return
    # Filed under no record: the person's records are gone already.
    with call_audit().logged_under(None):
        try:
            _erase(job, archived)
        except BreakerOpen as exc:
            _send(job, job.attempt, exc.retry_after_s)
        except HubSpotError as exc:
            _settle_failure(job, archived, exc)
        else:
            _record(job, archived, "deleted")


def _erase(job: _Job, archived: _Archived) -> None:
    """Notes, deals, and the contact last (see the module's docstring for why)."""
    client = hubspot_client()
    for note_id in job.note_ids:
        _archive(client.archive_note, note_id)
        archived.notes += 1
    for deal_id in job.deal_ids:
        _archive(client.archive_deal, deal_id)
        archived.deals += 1
    client.gdpr_delete_contact(job.email)


def _archive(archive: Callable[[str], None], object_id: str) -> None:
    try:
        archive(object_id)
    except HubSpotError as exc:
        # HubSpot answers an object already gone with 204; a 404 says the same.
        if exc.status != 404:
            raise


def _settle_failure(job: _Job, archived: _Archived, exc: HubSpotError) -> None:
    if exc.status == 404:
        # HubSpot holds no such contact (any more): there is nothing left to delete.
        _record(job, archived, "not_found")
    elif exc.kind is ErrorKind.RATE_LIMITED:
        _send(job, job.attempt, exc.retry_after_s or RATE_LIMIT_WAIT_S)
    elif exc.kind in RETRYABLE:
        _retry(job, archived, exc.describe())
    else:
        _record(job, archived, "failed", exc.describe())


def _retry(job: _Job, archived: _Archived, error: str) -> None:
    """Send the job again after the shared policy's backoff, or record the failure."""
    policy = retry_options()
    if job.attempt >= policy["max_retries"]:
        _record(job, archived, "failed", error)
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
        kwargs={"note_ids": list(job.note_ids), "deal_ids": list(job.deal_ids)},
        delay=int(max(delay_s, 0.1) * 1000),
    )


def _record(job: _Job, archived: _Archived, outcome: str, error: str | None = None) -> None:
    detail: dict[str, Any] = {
        "hubspot": outcome,
        "attempts": job.attempt + 1,
        "notes_archived": archived.notes,
        "deals_archived": archived.deals,
    }
    if error:
        detail["error"] = _scrub(error, job.email)
    log.info("HubSpot deletion %s: %s", job.label, outcome)
    database.run(record_action(job.admin, HUBSPOT_OUTCOME, people.email_hash(job.email), detail))


def _scrub(text: str, email: str) -> str:
    """`text` without the e-mail, which HubSpot's messages may quote."""
    return re.sub(re.escape(people.normalise(email)), "[e-mail]", text, flags=re.IGNORECASE)
