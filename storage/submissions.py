"""Submission rows: stored first, then claimed, advanced and settled by the sync actor."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from storage.tables import Submission


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def create_submission(
    *,
    form_type: str,
    email: str,
    raw_fields: Mapping[str, Any],
    contact_properties: Mapping[str, str],
    deal_properties: Mapping[str, str],
    summary: Mapping[str, str],
    submission_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert one pending submission; it is committed when this returns."""
    row = Submission(
        id=submission_id or uuid.uuid4(),
        form_type=form_type,
        email=email,
        raw_fields=dict(raw_fields),
        contact_properties=dict(contact_properties),
        deal_properties=dict(deal_properties),
        summary=dict(summary),
    )
    await row.save()
    return row.id


async def get_submission(submission_id: uuid.UUID | str) -> Submission | None:
    query = Submission.objects().where(Submission.id == _uuid(submission_id))
    return await query.output(load_json=True).first()


async def claim_for_sync(submission_id: uuid.UUID | str, lease_s: float) -> Submission | None:
    """Take the submission for one sync attempt, unless another worker holds a live lease.

    A lease that ran out means its worker died mid-job: the row may be claimed again.
    """
    now = _now()
    claimable = (Submission.status == "pending") | (
        (Submission.status == "syncing") & (Submission.lease_until < now)
    )
    rows = (
        await Submission.update(
            {
                Submission.status: "syncing",
                Submission.attempts: Submission.attempts + 1,
                Submission.lease_until: now + dt.timedelta(seconds=lease_s),
                Submission.updated_at: now,
            }
        )
        .where((Submission.id == _uuid(submission_id)) & claimable)
        .returning(Submission.id)
    )
    return await get_submission(submission_id) if rows else None


async def save_progress(submission_id: uuid.UUID | str, changes: Mapping[Any, Any]) -> None:
    await Submission.update({**changes, Submission.updated_at: _now()}).where(
        Submission.id == _uuid(submission_id)
    )


async def record_progress(
    submission_id: uuid.UUID | str, changes: Mapping[Any, Any], attempt: int, lease_s: float
) -> bool:
    """Save a sync's progress only while this attempt still holds the row, renewing its lease.

    `attempt` (the row's `attempts` when it was claimed) fences off a worker whose lease ran
    out and whose row was claimed again: it learns so here, before any further HubSpot write.
    """
    now = _now()
    rows = (
        await Submission.update(
            {
                **changes,
                Submission.updated_at: now,
                Submission.lease_until: now + dt.timedelta(seconds=lease_s),
            }
        )
        .where(
            (Submission.id == _uuid(submission_id))
            & (Submission.status == "syncing")
            & (Submission.attempts == attempt)
        )
        .returning(Submission.id)
    )
    return bool(rows)


async def mark_synced(submission_id: uuid.UUID | str) -> None:
    now = _now()
    await save_progress(
        submission_id,
        {
            Submission.status: "synced",
            Submission.synced_at: now,
            Submission.lease_until: None,
            Submission.next_attempt_at: None,
            Submission.last_error: None,
            Submission.last_error_correlation_id: None,
        },
    )


async def release(
    submission_id: uuid.UUID | str,
    status: str,
    error: str | None,
    correlation_id: str | None = None,
    retry_in_s: float | None = None,
) -> None:
    """Give the row back as `pending` (to be tried again) or `failed`, keeping the reason.

    `retry_in_s` says when a queued retry is due, so the sweeper leaves it alone till then.
    """
    next_attempt = _now() + dt.timedelta(seconds=retry_in_s) if retry_in_s is not None else None
    await save_progress(
        submission_id,
        {
            Submission.status: status,
            Submission.lease_until: None,
            Submission.next_attempt_at: next_attempt,
            Submission.last_error: error,
            Submission.last_error_correlation_id: correlation_id,
        },
    )


async def claim_stale_submissions(grace_s: float, limit: int = 500) -> list[uuid.UUID]:
    """Rows whose message was lost: pending past their due time, or held by a dead worker.

    Each one returned is marked as re-queued now, so the next sweep leaves it alone for
    another `grace_s` instead of queueing it again while the first message waits its turn.
    """
    return await claim_due_submissions(_now() - dt.timedelta(seconds=grace_s), limit)


async def claim_due_submissions(cutoff: dt.datetime, limit: int = 500) -> list[uuid.UUID]:
    """Up to `limit` rows pending since before `cutoff` (or held by a dead worker), marked
    as re-queued now: called again with the same `cutoff`, it returns the next ones."""
    due = Submission.next_attempt_at.is_null() & (Submission.updated_at < cutoff)
    overdue = Submission.next_attempt_at < cutoff
    stale = ((Submission.status == "pending") & (due | overdue)) | (
        (Submission.status == "syncing") & (Submission.lease_until < _now())
    )
    return await _requeue(stale, limit)


async def retry_failed(submission_id: uuid.UUID | str) -> bool:
    """Give a failed row back to `pending` for one more sync; False when it is not failed."""
    rows = (
        await Submission.update(
            {
                Submission.status: "pending",
                Submission.next_attempt_at: None,
                Submission.lease_until: None,
                Submission.updated_at: _now(),
            }
        )
        .where((Submission.id == _uuid(submission_id)) & (Submission.status == "failed"))
        .returning(Submission.id)
    )
    return bool(rows)


async def count_failed() -> int:
    """How many rows a bulk retry would take (the `status` index answers it)."""
    return await Submission.count().where(Submission.status == "failed")


async def reopen_failed(failed_before: dt.datetime, limit: int = 500) -> list[uuid.UUID]:
    """Up to `limit` rows that failed before `failed_before`, back to `pending` and marked as
    re-queued now. The cut-off ends a bulk retry: a row that fails again is not taken twice."""
    failed = (Submission.status == "failed") & (Submission.updated_at < failed_before)
    return await _requeue(failed, limit)


async def _requeue(where: Any, limit: int) -> list[uuid.UUID]:
    """Mark the oldest `limit` rows matching `where` pending and queued now; their ids."""
    rows = (
        await Submission.select(Submission.id)
        .where(where)
        .order_by(Submission.created_at)
        .limit(limit)
    )
    ids = [row["id"] for row in rows]
    if not ids:
        return []
    requeued = {
        Submission.status: "pending",
        Submission.next_attempt_at: _now(),
        Submission.lease_until: None,
    }
    changed = (
        await Submission.update(requeued)
        .where(Submission.id.is_in(ids) & where)
        .returning(Submission.id)
    )
    return [row["id"] for row in changed]


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
