"""`sync_submission`: drain waiting submissions to HubSpot, up to a hundred per batch.

A message is a wake-up. Its worker takes one of the request budget's batch slots (or
leaves the work to the workers holding them, who claim again while rows are due), claims
the named row and the other due ones under one lease, syncs them with `BatchSync`, and
settles each row: `synced`, `failed` with HubSpot's reason, or `pending` with a due time
and a wake-up for it. A lone submission is a batch of one: it goes straight through.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq

from actors import broker as _broker  # noqa: F401  (the broker must exist before actors)
from actors import sync_control
from actors.broker import redis_client
from actors.retry_policy import RETRYABLE, backoff_s, epoch, moment, retry_options
from actors.services import call_audit, circuit_breaker, crm_service, rate_limiter
from crm.batch_sync import Lead, SubmissionPayload, SyncProgress, WrittenContact
from crm.breaker import BreakerOpen
from crm.client import MAX_BATCH_INPUTS
from crm.errors import ErrorKind, HubSpotError, WriteInDoubt
from settings import get_settings
from storage import submissions
from storage.runner import database
from storage.storable import TOO_DEEP
from storage.submissions import Batch, Settlement
from storage.tables import Submission

log = logging.getLogger(__name__)

#: Submissions per batch: as many as HubSpot takes in one batch call.
BATCH_SIZE = MAX_BATCH_INPUTS
#: Seconds one message drains before handing on to a fresh message (well inside
#: Dramatiq's time limit, and so other queued work gets its turn).
DRAIN_S = 60.0
#: Longest a batch slot is held past its holder's last HubSpot call (two call timeouts if
#: longer): a dead worker's slots free after it.
SLOT_HOLD_S = 15.0
#: Set when a wake-up found every batch slot taken: the next holder to let go claims again.
WANTED_KEY = "leadsync:sync:wanted"
#: Why a row stored before input was bounded, nested too deeply to read, fails unsent.
UNREADABLE = (
    "The submission was stored nested too deeply to read, so it cannot be sent to HubSpot. "
    "Ask the visitor to send the form again."
)
#: Seconds a row waits after a failure of our own (a bug, the database) before a retry.
INTERNAL_ERROR_WAIT_S = 10.0


@dramatiq.actor(queue_name="crm", **retry_options())
def sync_submission(submission_id: str = "") -> None:
    """Sync what waits, `submission_id` (if any) among the first."""
    if sync_control.held_back(sync_submission, submission_id, once=True):
        return
    drain(submission_id or None)


def drain(first: str | None = None) -> None:
    """Claim and sync batches while rows are due, `first` in the first one.

    Without a free batch slot, leave a word (`WANTED_KEY`) and try once more: a holder
    reads the word after letting its slot go and claims again, so a row queued while
    every slot was busy is never left for the sweeper.
    """
    deadline = time.monotonic() + DRAIN_S
    asked = False
    while True:
        hold_s = max(SLOT_HOLD_S, 2 * get_settings().hubspot_timeout)
        with rate_limiter().batch_slot(hold_s) as slot:
            if slot is not None and not _sync_batches(first, deadline):
                return
        if slot is None:
            if asked:
                return
            redis_client().set(WANTED_KEY, "1", ex=int(DRAIN_S))
            asked = True
        elif not redis_client().getdel(WANTED_KEY):
            return
        first = None


def _sync_batches(first: str | None, deadline: float) -> bool:
    """Claim and sync until nothing is due; False when the drain must stop instead (paused,
    breaker open, or its time is up: a fresh message goes on)."""
    lease_s = get_settings().sync_lease
    while batch := database.run(submissions.claim_batch(BATCH_SIZE, lease_s, first)):
        first = None
        if len(batch.rows) == BATCH_SIZE:
            wake_up()  # more may wait: let another worker take a free slot
        sync_batch(batch)
        if _stopped():
            return False
        if time.monotonic() > deadline:
            wake_up()
            return False
    return True


def sync_batch(batch: Batch) -> None:
    """Sync one claimed batch and settle each of its rows."""
    batch = _without_unreadable(batch)
    if not batch.rows:
        return
    leads = {row.id: _lead(row) for row in batch.rows}
    saved = {row_id: dataclasses.replace(lead.progress) for row_id, lead in leads.items()}
    lease_s = get_settings().sync_lease

    def save(changed: Sequence[Lead]) -> None:
        rows = {_id(lead): lead for lead in changed if lead.progress != saved[_id(lead)]}
        columns = {
            row_id: _progress_columns(saved[row_id], lead.progress) for row_id, lead in rows.items()
        }
        held = database.run(submissions.record_progress(batch.id, columns, lease_s))
        for row_id, lead in rows.items():
            lead.held = row_id in held
            saved[row_id] = dataclasses.replace(lead.progress)

    with call_audit().logged_under(None, batch_id=batch.id):
        try:
            crm_service().sync_leads(list(leads.values()), save, _written(batch))
        except (HubSpotError, BreakerOpen) as exc:
            _settle(batch, leads, exc)
        except Exception as exc:
            _settle(batch, leads, exc)
            raise
        else:
            _settle(batch, leads, None)


def _without_unreadable(batch: Batch) -> Batch:
    """The batch less its rows stored nested too deeply to read, failed here: what they
    hold cannot reach HubSpot, and the rest of the batch must not wait on them."""
    unreadable = {
        row.id
        for row in batch.rows
        if TOO_DEEP in (row.contact_properties, row.deal_properties, row.summary)
    }
    if unreadable:
        log.warning("sync of %s failed: %s", sorted(map(str, unreadable)), UNREADABLE)
        failed = Settlement("failed", UNREADABLE)
        database.run(submissions.settle_batch(batch.id, dict.fromkeys(unreadable, failed)))
    return Batch(batch.id, [row for row in batch.rows if row.id not in unreadable])


def wake_up(first: uuid.UUID | str | None = None, delay_s: float = 0.0) -> None:
    """Queue a drain; a broker that fails is logged: the sweeper finds the rows anyway."""
    try:
        delay_ms = int(delay_s * 1000) or None  # a delay of 0 would go to the delay queue
        sync_submission.send_with_options(args=(str(first or ""),), delay=delay_ms)
    except Exception:
        log.exception("could not queue a sync; the sweeper will")


def _stopped() -> bool:
    """Syncing was paused (the resume queues what waits) or the breaker opened (the rows
    it stopped wait with a wake-up; others, for the sweeper or the next message)."""
    return sync_control.is_paused() or circuit_breaker().remaining_open_s() > 0


def _settle(batch: Batch, leads: dict[uuid.UUID, Lead], interrupted: Exception | None) -> None:
    retries = {row.id: _retries_so_far(row, leads[row.id].progress) for row in batch.rows}
    settlements: dict[uuid.UUID, Settlement] = {}
    delays: dict[int, float] = {}  # one backoff per retry count: rows come back together
    for row_id, lead in leads.items():
        if not lead.held:
            continue
        if lead.progress.done:
            settlements[row_id] = Settlement("synced")
            continue
        problem = lead.problem or interrupted
        settlements[row_id] = _settlement(problem, retries[row_id], delays)
        if problem is not None and settlements[row_id].status == "failed":
            log.warning("sync of %s failed: %s", row_id, settlements[row_id].error)
    database.run(submissions.settle_batch(batch.id, settlements))
    _wake_for(settlements)


def _retries_so_far(row: Submission, progress: SyncProgress) -> int:
    """The row's transient failures in a row: none once this run took it a step on."""
    steps = ("contact_id", "deal_id", "association_verified", "activity_id")
    before = _progress(row)
    moved_on = any(getattr(before, step) != getattr(progress, step) for step in steps)
    return 0 if moved_on else row.retries


def _settlement(problem: Exception | None, retries: int, delays: dict[int, float]) -> Settlement:
    """How a row that did not finish is left: waiting (a pause or a retry) or failed."""
    if isinstance(problem, BreakerOpen | WriteInDoubt):
        return Settlement(
            "pending", str(problem), retry_in_s=problem.retry_after_s, retries=retries
        )
    if not isinstance(problem, HubSpotError):  # our own fault: the row waits for a fix
        error = f"internal error: {problem!r}"
        return Settlement("pending", error, retry_in_s=INTERNAL_ERROR_WAIT_S, retries=retries)
    error, correlation_id = problem.describe(), problem.correlation_id
    if problem.kind is ErrorKind.RATE_LIMITED:
        wait_s = problem.retry_after_s or 10.0
        return Settlement("pending", error, correlation_id, wait_s, retries)
    if problem.kind in RETRYABLE and retries < get_settings().hubspot_max_retries:
        if retries + 1 not in delays:
            delays[retries + 1] = backoff_s(retries + 1, no_answer=problem.status == 0)
        return Settlement("pending", error, correlation_id, delays[retries + 1], retries + 1)
    return Settlement(
        "failed", error, correlation_id, retries=retries + (problem.kind in RETRYABLE)
    )


def _wake_for(settlements: dict[uuid.UUID, Settlement]) -> None:
    """One wake-up for each due time the waiting rows were given."""
    due: dict[float, uuid.UUID] = {}
    for row_id, settlement in settlements.items():
        if settlement.status == "pending" and settlement.retry_in_s is not None:
            due.setdefault(round(settlement.retry_in_s, 1), row_id)
    for delay_s, row_id in due.items():
        wake_up(row_id, delay_s)


def _written(batch: Batch) -> dict[str, list[WrittenContact]]:
    """Submissions of the batch's e-mails sent after its oldest that are on their contact."""
    emails = sorted({row.email for row in batch.rows if not row.hubspot_contact_id})
    if not emails:
        return {}
    oldest = min(row.created_at for row in batch.rows)
    found = database.run(submissions.written_contacts(emails, oldest))
    return {
        email: [WrittenContact(_ms(at), properties) for at, properties in rows]
        for email, rows in found.items()
    }


def _lead(row: Submission) -> Lead:
    payload = SubmissionPayload(
        submission_id=str(row.id),
        form_type=row.form_type,
        contact_properties=row.contact_properties,
        deal_properties=row.deal_properties,
        summary=row.summary,
        submitted_at_ms=_ms(row.created_at),
    )
    return Lead(payload, _progress(row))


def _progress(row: Submission) -> SyncProgress:
    """How far the row had got when it was claimed."""
    return SyncProgress(
        contact_id=row.hubspot_contact_id,
        deal_id=row.hubspot_deal_id,
        association_verified=row.association_verified_at is not None,
        activity_attempted_at=epoch(row.activity_attempted_at),
        activity_id=row.hubspot_activity_id,
    )


def _progress_columns(before: SyncProgress, after: SyncProgress) -> dict[Any, Any]:
    """The columns of what changed between two saves."""
    now = dt.datetime.now(dt.UTC)
    stored = {
        "contact_id": (Submission.hubspot_contact_id, after.contact_id),
        "deal_id": (Submission.hubspot_deal_id, after.deal_id),
        "association_verified": (
            Submission.association_verified_at,
            now if after.association_verified else None,
        ),
        "activity_attempted_at": (
            Submission.activity_attempted_at,
            moment(after.activity_attempted_at),
        ),
        "activity_id": (Submission.hubspot_activity_id, after.activity_id),
    }
    return {
        column: value
        for name, (column, value) in stored.items()
        if getattr(before, name) != getattr(after, name)
    }


def _id(lead: Lead) -> uuid.UUID:
    return uuid.UUID(lead.payload.submission_id)


def _ms(moment_: dt.datetime) -> int:
    return int(moment_.timestamp() * 1000)
