"""The dashboard's reads: paged lists of submissions, uploads and admin actions, and the
detail of one submission or upload with every HubSpot call made for it.

Lists are newest first and paged by keyset, (time, id) of the last row shown, never by
OFFSET: the 2,000th page of 100,000 rows costs what the first does, and no total is
counted. Each filter is an equality on an indexed column; the e-mail search is a prefix
match on the lower-cased `email` column (`LIKE 'x%'`, which an index can serve), never a
substring search.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.query import Select

from storage.admin import AdminAction
from storage.storable import decode_rows
from storage.submissions import get_submission
from storage.tables import HubSpotCall, Submission, SyncBatchMember
from storage.uploads import Upload, get_results, get_upload

#: Rows per page of every list.
PAGE_SIZE = 50
#: Most HubSpot calls a detail page shows: a row retried for days could have thousands.
MAX_CALLS = 500
#: Other records of the same e-mail a detail page lists.
MAX_RELATED = 10

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Page:
    """One page of a list; `newer` and `older` are the cursors of the pages either side."""

    rows: list[dict[str, Any]]
    newer: str | None = None
    older: str | None = None


@dataclass(frozen=True)
class _Keyset:
    """The order of a list: a time column, then the primary key to break ties."""

    time: Column
    id: Column
    parse_id: Callable[[str], Any]

    def encode(self, row: dict[str, Any]) -> str:
        at: dt.datetime = row[self.time._meta.name]
        return f"{(at - _EPOCH) // _MICROSECOND}_{row[self.id._meta.name]}"

    def decode(self, cursor: str | None) -> tuple[dt.datetime, Any] | None:
        """The (time, id) a cursor names; None for a missing or malformed one."""
        try:
            micros, key = (cursor or "").split("_", 1)
            return _EPOCH + int(micros) * _MICROSECOND, self.parse_id(key)
        except (ValueError, OverflowError):
            return None

    def beyond(self, at: dt.datetime, key: Any, newer: bool) -> Any:
        """Rows after (`newer`) or before the row (at, key) in the list's order.

        The plain bound on the time comes first so the index serves it as a range; the
        tie-break on the id only filters the rows of that one instant.
        """
        if newer:
            return (self.time >= at) & ((self.time > at) | (self.id > key))
        return (self.time <= at) & ((self.time < at) | (self.id < key))


_SUBMISSIONS = _Keyset(Submission.created_at, Submission.id, uuid.UUID)
_UPLOADS = _Keyset(Upload.created_at, Upload.id, uuid.UUID)
_ACTIONS = _Keyset(AdminAction.at, AdminAction.id, int)

#: What a list row shows.
_SUBMISSION_COLUMNS = (
    Submission.id,
    Submission.created_at,
    Submission.form_type,
    Submission.email,
    Submission.status,
    Submission.attempts,
    Submission.last_error,
)
_UPLOAD_COLUMNS = (
    Upload.id,
    Upload.created_at,
    Upload.email,
    Upload.filename,
    Upload.status,
    Upload.file_type,
    Upload.quality_score,
    Upload.crm_status,
)


async def _page(
    keyset: _Keyset, query: Select, before: str | None = None, after: str | None = None
) -> Page:
    """The page older than cursor `before`, newer than `after`, or else the newest."""
    newer_cursor = keyset.decode(after)
    towards_newer = newer_cursor is not None
    cursor = newer_cursor if towards_newer else keyset.decode(before)
    if cursor is not None:
        query = query.where(keyset.beyond(*cursor, newer=towards_newer))
    query = query.order_by(keyset.time, keyset.id, ascending=towards_newer)
    rows = await query.limit(PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if towards_newer:
        rows.reverse()
    if not rows:
        return Page(rows)
    has_newer = more if towards_newer else cursor is not None
    has_older = more or towards_newer
    return Page(
        rows,
        newer=keyset.encode(rows[0]) if has_newer else None,
        older=keyset.encode(rows[-1]) if has_older else None,
    )


def _email_prefix(column: Column, text: str) -> WhereRaw:
    """`column` starts with `text`, lower-cased; `%` and `_` in it match only themselves."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return WhereRaw(f"\"{column._meta.db_column_name}\" LIKE {{}} ESCAPE '\\'", f"{escaped}%")


async def list_submissions(
    *,
    status: str | None = None,
    form_type: str | None = None,
    email: str | None = None,
    before: str | None = None,
    after: str | None = None,
) -> Page:
    conditions: list[Any] = []
    if status:
        conditions.append(Submission.status == status)
    if form_type:
        conditions.append(Submission.form_type == form_type)
    if email:
        conditions.append(_email_prefix(Submission.email, email))
    query = Submission.select(*_SUBMISSION_COLUMNS).where(*conditions)
    return await _page(_SUBMISSIONS, query, before, after)


async def list_uploads(
    *,
    status: str | None = None,
    crm_status: str | None = None,
    email: str | None = None,
    before: str | None = None,
    after: str | None = None,
) -> Page:
    conditions: list[Any] = []
    if status:
        conditions.append(Upload.status == status)
    if crm_status:
        conditions.append(Upload.crm_status == crm_status)
    if email:
        conditions.append(_email_prefix(Upload.email, email))
    query = Upload.select(*_UPLOAD_COLUMNS).where(*conditions)
    return await _page(_UPLOADS, query, before, after)


async def list_admin_actions(*, before: str | None = None, after: str | None = None) -> Page:
    page = await _page(_ACTIONS, AdminAction.select(), before, after)
    page.rows[:] = decode_rows(AdminAction, page.rows)
    return page


async def hubspot_calls(record_id: uuid.UUID) -> list[dict[str, Any]]:
    """The HubSpot calls made for a submission (its batches' calls too) or an upload,
    oldest first."""
    return (
        await HubSpotCall.select()
        .where(calls_for([record_id]))
        .order_by(HubSpotCall.at, HubSpotCall.id)
        .limit(MAX_CALLS)
    )


def calls_for(record_ids: list[Any]) -> Any:
    """The call-log rows filed under these records, or under a sync batch holding them."""
    batches = SyncBatchMember.select(SyncBatchMember.batch_id).where(
        SyncBatchMember.submission_id.is_in(record_ids)
    )
    return HubSpotCall.submission_id.is_in(record_ids) | HubSpotCall.batch_id.is_in(batches)


async def _latest(keyset: _Keyset, columns: tuple[Column, ...], where: Any) -> list[dict[str, Any]]:
    """The newest few rows matching `where`, for a detail page's related records."""
    return (
        await keyset.time._meta.table.select(*columns)
        .where(where)
        .order_by(keyset.time, keyset.id, ascending=False)
        .limit(MAX_RELATED)
    )


@dataclass(frozen=True)
class SubmissionDetail:
    submission: Submission
    calls: list[dict[str, Any]]
    uploads: list[dict[str, Any]]


@dataclass(frozen=True)
class UploadDetail:
    upload: Upload
    analysis: dict[str, Any] | None
    calls: list[dict[str, Any]]
    submissions: list[dict[str, Any]]


async def submission_detail(submission_id: uuid.UUID) -> SubmissionDetail | None:
    """A submission, its HubSpot calls, and the latest uploads of its e-mail."""
    row = await get_submission(submission_id)
    if row is None:
        return None
    return SubmissionDetail(
        row,
        await hubspot_calls(row.id),
        await _latest(_UPLOADS, _UPLOAD_COLUMNS, Upload.email == row.email),
    )


async def upload_detail(upload_id: uuid.UUID) -> UploadDetail | None:
    """An upload, its analysis (until retention deletes it), its HubSpot calls, and the
    latest submissions of its e-mail."""
    row = await get_upload(upload_id)
    if row is None:
        return None
    return UploadDetail(
        row,
        await get_results(upload_id),
        await hubspot_calls(row.id),
        await _latest(_SUBMISSIONS, _SUBMISSION_COLUMNS, Submission.email == row.email),
    )
