"""Sample-data uploads: the row that follows a file from upload URL to analysis to CRM.

`status` is the visitor's view (pending -> uploaded -> processing -> completed | failed);
`crm_status` is the HubSpot update that follows a completed analysis (pending -> syncing ->
synced | failed). Each step is claimed with a lease, as submissions are, so a worker that
dies leaves a row another can take, never one stuck for good.

Analyses live in their own table because retention deletes them (with the file) while the
upload row stays: the count of completed uploads HubSpot shows is derived from these rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from piccolo.columns import JSON, UUID, BigInt, Integer, Real, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

#: What the visitor sees, in order; `failed` can follow any of the first three.
UPLOAD_STATUSES = ("pending", "uploaded", "processing", "completed", "failed")
#: The HubSpot update of a completed upload.
CRM_STATUSES = ("pending", "syncing", "synced", "failed")


class Upload(Table, tablename="uploads"):
    """One file a visitor uploads, with what the analysis and HubSpot made of it."""

    id = UUID(primary_key=True)
    email = Varchar(length=254, index=True)
    filename = Varchar(length=255, help_text="as the visitor named it; blanked on purge")
    content_type = Varchar(length=127, help_text="as declared; the upload must match it")
    declared_size = BigInt(help_text="bytes, as declared when the upload URL was made")
    object_key = Varchar(length=255)
    status = Varchar(length=16, default="pending", index=True)
    message = Text(null=True, default=None, help_text="why it failed, for the visitor")
    size_bytes = BigInt(null=True, default=None, help_text="as stored")
    file_type = Varchar(length=16, null=True, default=None, help_text="detected from content")
    quality_score = Real(null=True, default=None)
    attempts = Integer(default=0, help_text="analysis attempts")
    lease_until = Timestamptz(null=True, default=None, help_text="a worker holds the analysis")
    expires_at = Timestamptz(help_text="the upload URL works until then")
    results_url = Text(help_text="the visitor's signed status page, on the host they used")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())
    uploaded_at = Timestamptz(null=True, default=None)
    analysed_at = Timestamptz(null=True, default=None, index=True)
    purged_at = Timestamptz(null=True, default=None, help_text="file and analysis deleted")
    crm_status = Varchar(length=16, null=True, default=None, index=True)
    crm_attempts = Integer(default=0)
    crm_lease_until = Timestamptz(null=True, default=None)
    crm_next_attempt_at = Timestamptz(null=True, default=None)
    crm_error = Text(null=True, default=None)
    crm_error_correlation_id = Varchar(length=64, null=True, default=None)
    hubspot_contact_id = Varchar(length=32, null=True, default=None)
    hubspot_activity_id = Varchar(
        length=64, null=True, default=None, help_text="a note id, or our timeline event id"
    )
    activity_attempted_at = Timestamptz(null=True, default=None)


class UploadAnalysis(Table, tablename="upload_analyses"):
    """The analysis of one upload (same id); deleted with the file after retention."""

    id = UUID(primary_key=True)
    results = JSON()
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def create_upload(
    *,
    upload_id: uuid.UUID,
    email: str,
    filename: str,
    content_type: str,
    declared_size: int,
    object_key: str,
    expires_at: dt.datetime,
    results_url: str,
) -> None:
    await Upload(
        id=upload_id,
        email=email,
        filename=filename,
        content_type=content_type,
        declared_size=declared_size,
        object_key=object_key,
        expires_at=expires_at,
        results_url=results_url,
    ).save()


async def get_upload(upload_id: uuid.UUID | str) -> Upload | None:
    return await Upload.objects().where(Upload.id == _uuid(upload_id)).first()


async def get_results(upload_id: uuid.UUID | str) -> dict[str, Any] | None:
    row = (
        await UploadAnalysis.select(UploadAnalysis.results)
        .where(UploadAnalysis.id == _uuid(upload_id))
        .output(load_json=True)
        .first()
    )
    return row["results"] if row else None


async def _update(
    upload_id: uuid.UUID | str, changes: Mapping[Any, Any], where: Any = None
) -> bool:
    """Apply `changes` (when `where` also holds); True when a row changed."""
    condition = Upload.id == _uuid(upload_id)
    if where is not None:
        condition = condition & where
    rows = (
        await Upload.update({**changes, Upload.updated_at: _now()})
        .where(condition)
        .returning(Upload.id)
    )
    return bool(rows)


async def mark_uploaded(upload_id: uuid.UUID | str, size_bytes: int) -> bool:
    """The file is in storage: pending -> uploaded. False when it had already moved on."""
    return await _update(
        upload_id,
        {Upload.status: "uploaded", Upload.size_bytes: size_bytes, Upload.uploaded_at: _now()},
        Upload.status == "pending",
    )


async def claim_for_analysis(upload_id: uuid.UUID | str, lease_s: float) -> Upload | None:
    """Take the upload for one analysis attempt, unless a live lease holds it."""
    now = _now()
    claimable = (Upload.status == "uploaded") | (
        (Upload.status == "processing") & (Upload.lease_until < now)
    )
    claimed = await _update(
        upload_id,
        {
            Upload.status: "processing",
            Upload.attempts: Upload.attempts + 1,
            Upload.lease_until: now + dt.timedelta(seconds=lease_s),
        },
        claimable,
    )
    return await get_upload(upload_id) if claimed else None


async def release_analysis(upload_id: uuid.UUID | str) -> None:
    """Give a processing upload back for another attempt (a transient storage error)."""
    await _update(upload_id, {Upload.status: "uploaded", Upload.lease_until: None}, _processing())


async def complete_analysis(upload_id: uuid.UUID | str, results: Mapping[str, Any]) -> bool:
    """Store the analysis and mark the upload completed, its HubSpot update pending."""
    upload_id = _uuid(upload_id)
    await UploadAnalysis.delete().where(UploadAnalysis.id == upload_id)
    await UploadAnalysis(id=upload_id, results=dict(results)).save()
    return await _update(
        upload_id,
        {
            Upload.status: "completed",
            Upload.lease_until: None,
            Upload.message: None,
            Upload.file_type: results["file_type"],
            Upload.quality_score: results["quality_score"],
            Upload.analysed_at: _now(),
            Upload.crm_status: "pending",
        },
        _processing(),
    )


async def fail_upload(upload_id: uuid.UUID | str, message: str) -> bool:
    """End the upload `failed` with a message for the visitor (from any unfinished state)."""
    return await _update(
        upload_id,
        {Upload.status: "failed", Upload.message: message, Upload.lease_until: None},
        Upload.status.is_in(["pending", "uploaded", "processing"]),
    )


def _processing() -> Any:
    return Upload.status == "processing"


# The HubSpot update


async def claim_for_crm(upload_id: uuid.UUID | str, lease_s: float) -> Upload | None:
    now = _now()
    claimable = (Upload.crm_status == "pending") | (
        (Upload.crm_status == "syncing") & (Upload.crm_lease_until < now)
    )
    claimed = await _update(
        upload_id,
        {
            Upload.crm_status: "syncing",
            Upload.crm_attempts: Upload.crm_attempts + 1,
            Upload.crm_lease_until: now + dt.timedelta(seconds=lease_s),
        },
        claimable,
    )
    return await get_upload(upload_id) if claimed else None


async def save_crm_progress(upload_id: uuid.UUID | str, changes: Mapping[Any, Any]) -> None:
    await _update(upload_id, changes)


async def mark_crm_synced(upload_id: uuid.UUID | str) -> None:
    await _update(
        upload_id,
        {
            Upload.crm_status: "synced",
            Upload.crm_lease_until: None,
            Upload.crm_next_attempt_at: None,
            Upload.crm_error: None,
            Upload.crm_error_correlation_id: None,
        },
    )


async def release_crm(
    upload_id: uuid.UUID | str,
    status: str,
    error: str | None,
    correlation_id: str | None = None,
    retry_in_s: float | None = None,
) -> None:
    """Back to `pending` (a retry is queued for `retry_in_s`) or `failed`, with the reason."""
    next_attempt = _now() + dt.timedelta(seconds=retry_in_s) if retry_in_s is not None else None
    await _update(
        upload_id,
        {
            Upload.crm_status: status,
            Upload.crm_lease_until: None,
            Upload.crm_next_attempt_at: next_attempt,
            Upload.crm_error: error,
            Upload.crm_error_correlation_id: correlation_id,
        },
    )


async def contact_snapshot(email: str) -> dict[str, str]:
    """The file-upload properties of the contact, from our own completed uploads.

    Derived, not incremented: whichever update runs last writes the true count and the
    latest upload, however many uploads of this e-mail finish at the same moment.
    """
    completed = (Upload.email == email) & Upload.analysed_at.is_not_null()
    count = await Upload.count().where(completed)
    latest = (
        await Upload.select(Upload.id, Upload.uploaded_at, Upload.file_type, Upload.quality_score)
        .where(completed)
        .order_by(Upload.analysed_at, ascending=False)
        .order_by(Upload.id, ascending=False)
        .first()
    )
    if latest is None:
        return {"file_upload_count": str(count)}
    return {
        "file_upload_count": str(count),
        "last_file_upload_date": latest["uploaded_at"].astimezone(dt.UTC).date().isoformat(),
        "last_file_type": latest["file_type"] or "",
        "last_file_quality_score": f"{latest['quality_score'] or 0:.2f}",
        "sample_data_reference": str(latest["id"]),
    }


# Housekeeping


async def stale_analysis_ids(grace_s: float, limit: int = 200) -> list[uuid.UUID]:
    """Uploads whose analysis message was lost, or whose worker died mid-analysis."""
    now = _now()
    stale = (
        (Upload.status == "uploaded") & (Upload.updated_at < now - dt.timedelta(seconds=grace_s))
    ) | ((Upload.status == "processing") & (Upload.lease_until < now))
    return await _ids(stale, limit)


async def stale_crm_ids(grace_s: float, limit: int = 200) -> list[uuid.UUID]:
    """Completed uploads whose HubSpot update was lost, as `stale_submission_ids` finds."""
    cutoff = _now() - dt.timedelta(seconds=grace_s)
    due = Upload.crm_next_attempt_at.is_null() & (Upload.updated_at < cutoff)
    overdue = Upload.crm_next_attempt_at < cutoff
    stale = ((Upload.crm_status == "pending") & (due | overdue)) | (
        (Upload.crm_status == "syncing") & (Upload.crm_lease_until < _now())
    )
    return await _ids(stale, limit)


async def expire_abandoned(grace_s: float, message: str) -> int:
    """Fail uploads whose URL expired with no file: the visitor's page then stops waiting."""
    cutoff = _now() - dt.timedelta(seconds=grace_s)
    rows = (
        await Upload.update(
            {Upload.status: "failed", Upload.message: message, Upload.updated_at: _now()}
        )
        .where((Upload.status == "pending") & (Upload.expires_at < cutoff))
        .returning(Upload.id)
    )
    return len(rows)


async def purgeable(older_than: dt.datetime, limit: int = 200) -> list[tuple[uuid.UUID, str]]:
    """(id, object key) of uploads past retention whose file is not yet deleted."""
    rows = (
        await Upload.select(Upload.id, Upload.object_key)
        .where((Upload.created_at < older_than) & Upload.purged_at.is_null())
        .order_by(Upload.created_at)
        .limit(limit)
    )
    return [(row["id"], row["object_key"]) for row in rows]


async def mark_purged(upload_id: uuid.UUID | str) -> None:
    """The file is deleted: delete the analysis and blank the file's name too."""
    await UploadAnalysis.delete().where(UploadAnalysis.id == _uuid(upload_id))
    await _update(upload_id, {Upload.purged_at: _now(), Upload.filename: ""})


async def _ids(where: Any, limit: int) -> list[uuid.UUID]:
    rows = await Upload.select(Upload.id).where(where).order_by(Upload.created_at).limit(limit)
    return [row["id"] for row in rows]
