"""Submission rows: stored first, then claimed, advanced and settled by the sync actor."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from piccolo.engine.sqlite import TransactionType

from storage.storable import TOO_DEEP, decode_object, decode_rows
from storage.tables import Submission, SyncBatchMember

#: Submissions younger than this (seconds) are served first, newest first, so a visitor's
#: lead never queues behind a backlog; they take half a batch at most, so it moves too.
FRESH_S = 10.0
#: The PostgreSQL advisory lock that makes batch claims take turns.
CLAIM_LOCK_KEY = 0x1EAD5C


@dataclass(frozen=True)
class Batch:
    """Submissions one worker holds for one sync, oldest claim first."""

    id: uuid.UUID
    rows: list[Submission]


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
    return decode_object(await query.first())


async def claim_batch(
    limit: int, lease_s: float, first: uuid.UUID | str | None = None
) -> Batch | None:
    """Take up to `limit` waiting submissions for one sync under one lease: `first` if it
    waits, then the newest of the last `FRESH_S` seconds (half the batch at most), then the
    oldest. A row whose e-mail another live batch holds stays: one batch at a time writes a
    contact, so its submissions reach it in the order they were sent."""
    now = _now()
    async with _claiming():
        busy = Submission.select(Submission.email).where(
            (Submission.status == "syncing") & (Submission.lease_until >= now)
        )
        free = Submission.email.not_in(busy)
        ids: list[uuid.UUID] = []
        if first is not None:
            ids += await _pick(_claimable(now) & (Submission.id == _uuid(first)) & free, 1)
        fresh = _due(now) & (Submission.created_at >= now - dt.timedelta(seconds=FRESH_S))
        ids += await _pick(fresh & free & _not_in(ids), (limit - len(ids)) // 2, newest=True)
        ids += await _pick(_due(now) & free & _not_in(ids), limit - len(ids))
        if not ids:
            return None
        batch_id = uuid.uuid4()
        await Submission.update(
            {
                Submission.status: "syncing",
                Submission.batch_id: batch_id,
                Submission.attempts: Submission.attempts + 1,
                Submission.lease_until: now + dt.timedelta(seconds=lease_s),
                Submission.updated_at: now,
            }
        ).where(Submission.id.is_in(ids))
        await SyncBatchMember.insert(
            *(SyncBatchMember(batch_id=batch_id, submission_id=row_id) for row_id in ids)
        )
        rows = await Submission.objects().where(Submission.batch_id == batch_id)
        for row in rows:
            decode_object(row)
    order = {row_id: n for n, row_id in enumerate(ids)}
    return Batch(batch_id, sorted(rows, key=lambda row: order[row.id]))


async def record_progress(
    batch_id: uuid.UUID, changes: Mapping[uuid.UUID, Mapping[Any, Any]], lease_s: float
) -> set[uuid.UUID]:
    """Save each row's progress while this batch still holds it, and renew the batch's
    lease; returns the rows still held. A row whose lease ran out and was claimed again is
    fenced off by its new `batch_id`: its old holder learns so here, before writing more."""
    now = _now()
    held = Submission.batch_id == batch_id
    async with Submission._meta.db.transaction():
        kept = set()
        for row_id, columns in changes.items():
            progress = {**columns, Submission.updated_at: now}
            if (
                await Submission.update(progress)
                .where((Submission.id == row_id) & held & (Submission.status == "syncing"))
                .returning(Submission.id)
            ):
                kept.add(row_id)
        await Submission.update(
            {Submission.lease_until: now + dt.timedelta(seconds=lease_s)}
        ).where(held & (Submission.status == "syncing"))
    return kept


@dataclass(frozen=True)
class Settlement:
    """How a sync leaves a row: `synced`, `pending` (due again in `retry_in_s`) or `failed`."""

    status: str
    error: str | None = None
    correlation_id: str | None = None
    retry_in_s: float | None = None
    #: Transient failures in a row so far (`pending`, `failed`); 0 once synced.
    retries: int = 0


async def settle_batch(batch_id: uuid.UUID, settlements: Mapping[uuid.UUID, Settlement]) -> None:
    """Leave each row as its settlement says, unless another batch holds it by now."""
    now = _now()
    groups: dict[Settlement, list[uuid.UUID]] = {}
    for row_id, settlement in settlements.items():
        groups.setdefault(settlement, []).append(row_id)
    async with Submission._meta.db.transaction():
        for settlement, ids in groups.items():
            await Submission.update(
                {**_settled(settlement, now), Submission.updated_at: now}
            ).where(
                Submission.id.is_in(ids)
                & (Submission.batch_id == batch_id)
                & (Submission.status == "syncing")
            )


def _settled(settlement: Settlement, now: dt.datetime) -> dict[Any, Any]:
    retry_in_s = settlement.retry_in_s
    return {
        Submission.status: settlement.status,
        Submission.lease_until: None,
        Submission.next_attempt_at: None
        if retry_in_s is None
        else now + dt.timedelta(seconds=retry_in_s),
        Submission.last_error: settlement.error,
        Submission.last_error_correlation_id: settlement.correlation_id,
        Submission.retries: settlement.retries,
        Submission.synced_at: now if settlement.status == "synced" else None,
    }


async def written_contacts(
    emails: Sequence[str], since: dt.datetime
) -> dict[str, list[tuple[dt.datetime, dict[str, str]]]]:
    """By e-mail, the contact properties of submissions sent after `since` whose contact
    step is done: a sync of an earlier one must leave their values on top."""
    if not emails:
        return {}
    rows = await Submission.select(
        Submission.email, Submission.created_at, Submission.contact_properties
    ).where(
        Submission.email.is_in(list(emails))
        & (Submission.created_at > since)
        & Submission.hubspot_contact_id.is_not_null()
    )
    found: dict[str, list[tuple[dt.datetime, dict[str, str]]]] = {}
    for row in decode_rows(Submission, rows):
        if row["contact_properties"] == TOO_DEEP:
            continue  # nothing of it can be kept on top: its own sync fails as unreadable
        found.setdefault(row["email"], []).append((row["created_at"], row["contact_properties"]))
    return found


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


@contextlib.asynccontextmanager
async def _claiming() -> AsyncIterator[None]:
    """One claim at a time, everywhere: a claim must see the e-mails the last one took.

    PostgreSQL: a transaction-scoped advisory lock (claims take milliseconds); SQLite: an
    immediate transaction, which holds the one write lock from its start.
    """
    engine = Submission._meta.db
    if engine.engine_type == "postgres":
        async with engine.transaction():
            await Submission.raw("SELECT pg_advisory_xact_lock({})", CLAIM_LOCK_KEY)
            yield
    else:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield


def _claimable(now: dt.datetime) -> Any:
    """Waiting, whatever its due time, or held by a worker whose lease ran out."""
    return (Submission.status == "pending") | (
        (Submission.status == "syncing") & (Submission.lease_until < now)
    )


def _due(now: dt.datetime) -> Any:
    """Waiting and due now, or held by a worker whose lease ran out."""
    due = Submission.next_attempt_at.is_null() | (Submission.next_attempt_at <= now)
    return ((Submission.status == "pending") & due) | (
        (Submission.status == "syncing") & (Submission.lease_until < now)
    )


def _not_in(ids: list[uuid.UUID]) -> Any:
    return Submission.id.not_in(ids) if ids else (Submission.id.is_not_null())


async def _pick(where: Any, limit: int, newest: bool = False) -> list[uuid.UUID]:
    """Ids of up to `limit` rows by age; on PostgreSQL rows another transaction has locked
    are skipped, never waited for."""
    if limit <= 0:
        return []
    query = (
        Submission.select(Submission.id)
        .where(where)
        .order_by(Submission.created_at, ascending=not newest)
        .limit(limit)
    )
    if Submission._meta.db.engine_type == "postgres":
        query = query.lock_rows("UPDATE", skip_locked=True, of=(Submission,))
    return [row["id"] for row in await query]


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
