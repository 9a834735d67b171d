"""Piccolo tables: what the product holds, committed before anything is queued."""

from __future__ import annotations

from piccolo.columns import JSON, UUID, BigSerial, Integer, Real, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

#: The states a submission moves through; `failed` rows can be retried.
SUBMISSION_STATUSES = ("pending", "syncing", "synced", "failed")


class Submission(Table, tablename="submissions"):
    """One form post, with what it became in HubSpot."""

    id = UUID(primary_key=True)
    form_type = Varchar(length=32, index=True)
    status = Varchar(length=16, default="pending", index=True)
    email = Varchar(length=254, index=True)
    raw_fields = JSON(help_text="every field exactly as posted")
    contact_properties = JSON(help_text="HubSpot contact properties, mapped at submit time")
    deal_properties = JSON()
    summary = JSON(help_text="field label -> shown value, for the activity note")
    attempts = Integer(default=0)
    retries = Integer(
        default=0, help_text="transient failures in a row since the sync last moved forward"
    )
    batch_id = UUID(
        null=True,
        default=None,
        index=True,
        help_text="the claim holding the row; fences off an old one",
    )
    last_error = Text(null=True, default=None)
    last_error_correlation_id = Varchar(length=64, null=True, default=None)
    hubspot_contact_id = Varchar(length=32, null=True, default=None)
    hubspot_deal_id = Varchar(length=32, null=True, default=None)
    hubspot_activity_id = Varchar(
        length=64, null=True, default=None, help_text="a note id, or our timeline event id"
    )
    association_verified_at = Timestamptz(null=True, default=None)
    activity_attempted_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None, help_text="a worker holds the sync")
    next_attempt_at = Timestamptz(
        null=True, default=None, index=True, help_text="a retry is queued for this time"
    )
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())
    synced_at = Timestamptz(null=True, default=None, index=True)


class HubSpotCall(Table, tablename="hubspot_calls"):
    """One HubSpot API call: the audit log the dashboard and alerts read."""

    id = BigSerial(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    operation = Varchar(length=64)
    status = Integer(help_text="HTTP status; 0 when no answer came")
    outcome = Varchar(length=16, help_text="ok, or the error kind")
    duration_ms = Real()
    object_id = Varchar(length=64, null=True, default=None)
    submission_id = UUID(null=True, default=None, index=True)
    batch_id = UUID(
        null=True, default=None, index=True, help_text="a batch call: see sync_batch_members"
    )
    correlation_id = Varchar(length=64, null=True, default=None)
    error = Text(null=True, default=None)


class SyncBatchMember(Table, tablename="sync_batch_members"):
    """Which submissions a sync batch held: a batch call's audit row names the batch."""

    id = BigSerial(primary_key=True)
    batch_id = UUID(index=True)
    submission_id = UUID(index=True)


class Alert(Table, tablename="alerts"):
    """A crossed monitoring threshold, as recorded, logged and posted to the webhook."""

    id = BigSerial(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    metric = Varchar(length=32, index=True)
    value = Real()
    threshold = Real()
    message = Text()
    resolved_at = Timestamptz(null=True, default=None)
