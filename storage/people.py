"""Everything held about one person, found by e-mail: to export it, or to erase it.

A person's rows: their submissions, their uploads with the analyses, the drafts they
typed the e-mail into, and the HubSpot call log of those submissions and uploads. Visitor
cookies hold only a submission id, so nothing else is kept server-side.

E-mails are matched on `lower(email)` (indexed): every writer stores them lower-cased, but
a row missed for its case would be an erasure that left data behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.table import Table

from storage.admin import AdminAction
from storage.drafts import Draft
from storage.listing import calls_for
from storage.storable import decode_rows
from storage.tables import HubSpotCall, Submission, SyncBatchMember
from storage.uploads import Upload, UploadAnalysis

#: The HubSpot objects made for a person: the row's column -> their kind in `hubspot_ids`.
HUBSPOT_COLUMNS = {
    "hubspot_contact_id": "contacts",
    "hubspot_deal_id": "deals",
    "hubspot_activity_id": "activities",
}
BUSY = (
    "Something of this person is being processed right now: a HubSpot sync, the analysis "
    "of a file, an upload, or a new submission. Nothing was deleted. Try again in a few "
    "minutes, once it has finished."
)


class PersonBusy(Exception):
    """A worker or the visitor holds one of the person's rows: erasing now could be undone."""


@dataclass(frozen=True)
class Person:
    """The rows held about one e-mail, as plain dicts (JSON columns loaded)."""

    email: str
    submissions: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    analyses: list[dict[str, Any]]
    drafts: list[dict[str, Any]]
    hubspot_calls: list[dict[str, Any]]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "submissions": len(self.submissions),
            "uploads": len(self.uploads),
            "analyses": len(self.analyses),
            "drafts": len(self.drafts),
            "hubspot_calls": len(self.hubspot_calls),
        }

    @property
    def held(self) -> bool:
        return any(self.counts.values())

    @property
    def hubspot_ids(self) -> dict[str, list[str]]:
        return _hubspot_ids([*self.submissions, *self.uploads])

    def export(self) -> dict[str, Any]:
        """Everything, JSON-serialisable (dates in ISO 8601), each analysis with its upload."""
        results = {row["id"]: row["results"] for row in self.analyses}
        return _plain(
            {
                "email": self.email,
                "exported_at": dt.datetime.now(dt.UTC),
                "hubspot_ids": self.hubspot_ids,
                "submissions": self.submissions,
                "uploads": [row | {"analysis": results.get(row["id"])} for row in self.uploads],
                "drafts": self.drafts,
                "hubspot_calls": self.hubspot_calls,
            }
        )


@dataclass(frozen=True)
class Erased:
    """What `erase` deleted, the uploaded files the caller must delete with it, and the
    HubSpot objects that were made for the person."""

    counts: dict[str, int]
    object_keys: list[str]
    hubspot_ids: dict[str, list[str]]


def normalise(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    """SHA-256 of the lower-cased e-mail: proves an erasure without keeping the address."""
    return hashlib.sha256(normalise(email).encode()).hexdigest()


async def find(email: str) -> Person:
    email = normalise(email)
    submissions = decode_rows(
        Submission,
        await Submission.select().where(_email_is(email)).order_by(Submission.created_at),
    )
    uploads = await Upload.select().where(_email_is(email)).order_by(Upload.created_at)
    upload_ids = [row["id"] for row in uploads]
    analyses = (
        decode_rows(
            UploadAnalysis,
            await UploadAnalysis.select().where(UploadAnalysis.id.is_in(upload_ids)),
        )
        if upload_ids
        else []
    )
    drafts = [row for row in await _all_drafts() if _typed_by(row, email)]
    record_ids = _record_ids(submissions, uploads)
    calls = (
        await HubSpotCall.select().where(calls_for(record_ids)).order_by(HubSpotCall.id)
        if record_ids
        else []
    )
    return Person(email, submissions, uploads, analyses, drafts, calls)


@contextlib.asynccontextmanager
async def erase(email: str) -> AsyncIterator[Erased]:
    """Delete every row held about `email` in one transaction, committed when the block
    ends cleanly: the caller deletes the files and queues the HubSpot deletion inside it,
    so a failure there leaves everything in place.

    Raises `PersonBusy`, deleting nothing, while a worker holds a live lease on one of the
    rows (its HubSpot write could land after the erasure and bring the person back), while
    an upload URL is still open (the file could arrive after its row is gone), or when a
    row arrives meanwhile.
    """
    email = normalise(email)
    async with Submission._meta.db.transaction():
        # A write first: SQLite takes its write lock here, so nothing changes under us.
        submissions = await (
            Submission.delete()
            .where(
                _email_is(email) & _unleased(Submission.status, "syncing", Submission.lease_until)
            )
            .returning(
                Submission.id,
                Submission.hubspot_contact_id,
                Submission.hubspot_deal_id,
                Submission.hubspot_activity_id,
            )
        )
        uploads = await (
            Upload.delete()
            .where(_email_is(email) & _upload_unheld())
            .returning(
                Upload.id, Upload.object_key, Upload.hubspot_contact_id, Upload.hubspot_activity_id
            )
        )
        if await _any_left(email):
            raise PersonBusy(BUSY)
        upload_ids = [row["id"] for row in uploads]
        analyses = await _delete(UploadAnalysis, UploadAnalysis.id, upload_ids)
        drafts = [row["id"] for row in await _all_drafts() if _typed_by(row, email)]
        deleted_drafts = await _delete(Draft, Draft.id, drafts)
        record_ids = _record_ids(submissions, uploads)
        deleted_calls = await _unlink_calls(record_ids)
        # Batch calls name no person; what tied them to these submissions goes.
        await _delete(SyncBatchMember, SyncBatchMember.submission_id, record_ids)
        yield Erased(
            counts={
                "submissions": len(submissions),
                "uploads": len(uploads),
                "analyses": analyses,
                "drafts": deleted_drafts,
                "hubspot_calls": deleted_calls,
            },
            object_keys=[row["object_key"] for row in uploads],
            hubspot_ids=_hubspot_ids([*submissions, *uploads]),
        )


async def trail(hashed_email: str) -> list[dict[str, Any]]:
    """The admin actions on one person (their target is the e-mail's hash), oldest first."""
    return decode_rows(
        AdminAction,
        await AdminAction.select()
        .where(AdminAction.target == hashed_email)
        .order_by(AdminAction.id),
    )


def _email_is(email: str) -> WhereRaw:
    return WhereRaw("lower(email) = {}", email)


def _unleased(status: Column, held: str, lease_until: Column) -> Any:
    """Rows no live lease holds: a worker holds a row in status `held` until `lease_until`."""
    return (status != held) | lease_until.is_null() | (lease_until <= _now())


def _upload_unheld() -> Any:
    """Uploads no analysis or HubSpot update holds, and whose upload URL is closed."""
    analysis_free = _unleased(Upload.status, "processing", Upload.lease_until)
    crm_free = Upload.crm_status.is_null() | _unleased(
        Upload.crm_status, "syncing", Upload.crm_lease_until
    )
    url_closed = (Upload.status != "pending") | (Upload.expires_at <= _now())
    return analysis_free & crm_free & url_closed


async def _any_left(email: str) -> bool:
    return bool(
        await Submission.exists().where(_email_is(email))
        or await Upload.exists().where(_email_is(email))
    )


async def _all_drafts() -> list[dict[str, Any]]:
    """Every draft: its e-mail sits inside a JSON column, which SQL cannot match portably.
    Drafts expire after DRAFT_TTL, so there are few."""
    return decode_rows(Draft, await Draft.select().order_by(Draft.created_at))


def _typed_by(draft: dict[str, Any], email: str) -> bool:
    typed = (draft["fields"] or {}).get("email")
    return isinstance(typed, str) and normalise(typed) == email


def _record_ids(submissions: list[dict[str, Any]], uploads: list[dict[str, Any]]) -> list[Any]:
    """What the person's call-log rows are filed under: their submissions' and uploads' ids
    (an upload's calls are logged under its id). The log never quotes an e-mail
    (`actors/audit.py` masks them), so these find all of the person's rows, nobody else's."""
    return [row["id"] for row in [*submissions, *uploads]]


async def _unlink_calls(record_ids: list[Any]) -> int:
    """The person's call-log rows lose what tied them to the person (the record and object
    ids, HubSpot's message) but stay counted: the dashboard's history and the `/metrics`
    counters must not run backwards when someone is erased."""
    if not record_ids:
        return 0
    anonymous = {HubSpotCall.submission_id: None, HubSpotCall.object_id: None}
    rows = (
        await HubSpotCall.update({**anonymous, HubSpotCall.error: None})
        .where(HubSpotCall.submission_id.is_in(record_ids))
        .returning(HubSpotCall.id)
    )
    return len(rows)


async def _delete(table: type[Table], key: Column, ids: list[Any]) -> int:
    if not ids:
        return 0
    return len(await table.delete().where(key.is_in(ids)).returning(key))


def _hubspot_ids(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        kind: sorted({row[column] for row in rows if row.get(column)})
        for column, kind in HUBSPOT_COLUMNS.items()
    }


def _plain(value: Any) -> Any:
    """`value` with dates as ISO 8601 and UUIDs as strings, all the way down."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
