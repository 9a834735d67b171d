"""`CRMService`: the business steps of the CRM integration, each safe to run again.

Form submissions: validated and mapped once (`build_payload`), then synced many at a time
by `BatchSync` (`sync_leads`). File uploads: the visitor's contact updated and a note logged
(`update_contact_with_file_upload`). Progress is recorded after every step, so a retry
resumes instead of repeating.
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm.batch_sync import (
    BatchSync,
    Lead,
    Save,
    SubmissionPayload,
    SyncProgress,
    WrittenContact,
    find_note,
)
from crm.client import HubSpotClient, labelled_list
from crm.errors import ErrorKind, HubSpotError, WriteInDoubt
from crm.mapping import PropertyMap


class InvalidSubmission(ValueError):
    """Form data that fails validation; `errors` maps each field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass
class UploadProgress:
    """What the HubSpot update of one file upload has done; persisted like `SyncProgress`."""

    contact_id: str | None = None
    #: The contact's file-upload properties were written and checked against our records.
    properties_current: bool = False
    #: When a note create was sent (epoch s); its answer may be lost, so look before resending.
    activity_attempted_at: float | None = None
    activity_id: str | None = None


@dataclass(frozen=True)
class FileUpload:
    """An analysed upload, as HubSpot learns of it."""

    email: str
    filename: str
    size_bytes: int
    uploaded_at_ms: int
    results_url: str
    #: The contact's file-upload properties as our own records say *now* (the count of
    #: completed uploads, the latest one); read again after each write, so uploads that
    #: finish at the same moment leave HubSpot with the true count, not a lost increment.
    contact_snapshot: Callable[[], Mapping[str, str]]


#: Rounds of write-then-recheck before leaving the last word to a concurrent update.
MAX_SNAPSHOT_ROUNDS = 5
UPLOAD_ACTIVITY = "Sample Data Upload"


class CRMService:
    def __init__(
        self,
        client: HubSpotClient,
        property_map: PropertyMap,
        owner_id: str | None = None,
        timeline_template_id: str | None = None,
        privacy_policy_version: str = "",
        write_settle_s: float = 30.0,
        retry_delays_s: Sequence[float] = (1.0, 2.0),
    ) -> None:
        self.client = client
        self.map = property_map
        self.owner_id = owner_id
        self.privacy_policy_version = privacy_policy_version
        #: Seconds after sending a create with no answer before looking for what it made.
        self.write_settle_s = write_settle_s
        self.batch = BatchSync(
            client,
            property_map,
            owner_id=owner_id,
            timeline_template_id=timeline_template_id,
            write_settle_s=write_settle_s,
            retry_delays_s=retry_delays_s,
        )

    def process_form_submission(
        self, form_data: Mapping[str, Any], form_type: str, submission_id: str | None = None
    ) -> dict[str, str | None]:
        """Validate, map and sync one form in one go; returns the HubSpot ids."""
        payload = self.build_payload(form_data, form_type, submission_id or str(uuid.uuid4()))
        lead = Lead(payload, SyncProgress())
        self.sync_leads([lead], lambda leads: None)
        if lead.problem is not None:
            raise lead.problem
        progress = lead.progress
        return {
            "contact_id": progress.contact_id,
            "deal_id": progress.deal_id,
            "activity_id": progress.activity_id,
        }

    def sync_leads(
        self,
        leads: Sequence[Lead],
        save: Save,
        written: Mapping[str, Sequence[WrittenContact]] | None = None,
    ) -> None:
        """Sync up to a hundred submissions in a few batch calls (`BatchSync.run`)."""
        self.batch.run(leads, save, written)

    def build_payload(
        self, form_data: Mapping[str, Any], form_type: str, submission_id: str
    ) -> SubmissionPayload:
        cleaned = self.map.clean(form_type, form_data)
        if not cleaned.ok:
            raise InvalidSubmission(cleaned.errors)
        submitted_at_ms = int(time.time() * 1000)
        contact = self.map.contact_properties(form_type, cleaned.values)
        if contact.get("marketing_consent") == "true":
            # Record when, and under which privacy text, the visitor opted in.
            contact["marketing_consent_date"] = str(submitted_at_ms)
            contact["privacy_policy_version"] = self.privacy_policy_version
        return SubmissionPayload(
            submission_id=submission_id,
            form_type=form_type,
            contact_properties=contact,
            deal_properties=self.map.deal_properties(
                form_type, cleaned.values, submission_id, self.owner_id
            ),
            summary={
                self.map.fields[name].label: self.map.display_value(name, value)
                for name, value in cleaned.values.items()
            },
            submitted_at_ms=submitted_at_ms,
        )

    def create_or_update_contact(self, properties: Mapping[str, str]) -> str:
        """Create the contact, or update the one holding the e-mail (HubSpot's 409 names it).

        Never searches first: the search index lags writes, the classic duplicate cause.
        """
        try:
            return self.client.create_contact(properties).id
        except HubSpotError as exc:
            if exc.kind is not ErrorKind.CONFLICT:
                raise
            contact_id = exc.existing_id or self._contact_id_by_email(properties["email"], exc)
        existing = self.client.get_contact(contact_id, self.map.guarded_properties(properties))
        changes = self.map.changes_for_existing(properties, existing.properties if existing else {})
        self.client.update_contact(contact_id, changes)
        return contact_id

    def update_contact_with_file_upload(
        self,
        upload_id: uuid.UUID | str,
        results: Mapping[str, Any],
        *,
        upload: FileUpload,
        progress: UploadProgress | None = None,
        save: Callable[[UploadProgress], None] = lambda progress: None,
    ) -> dict[str, Any]:
        """Record an analysed upload on the visitor's contact, found or created by e-mail,
        and log a "Sample Data Upload" activity once; returns success and the ids.

        Steps resume from `progress` as a submission's do, saved after each one.
        """
        progress = progress or UploadProgress()
        written: Mapping[str, str] | None = None
        if not progress.contact_id:
            written = upload.contact_snapshot()
            progress.contact_id = self.create_or_update_contact({"email": upload.email, **written})
            save(progress)
        if not progress.properties_current:
            self._keep_upload_properties_current(progress.contact_id, written, upload)
            progress.properties_current = True
            save(progress)
        if not progress.activity_id:
            progress.activity_id = self._log_upload_activity(
                str(upload_id), results, upload, progress, save
            )
            save(progress)
        return {
            "success": True,
            "contact_id": progress.contact_id,
            "activity_id": progress.activity_id,
        }

    def _keep_upload_properties_current(
        self, contact_id: str, written: Mapping[str, str] | None, upload: FileUpload
    ) -> None:
        """Write our records' view until it holds still after the write.

        Whichever upload's update checks last sees every upload completed before it, so
        the final value is right even when two updates interleave.
        """
        for _ in range(MAX_SNAPSHOT_ROUNDS):
            current = dict(upload.contact_snapshot())
            if current == written:
                return
            self.client.update_contact(contact_id, current)
            written = current

    def _log_upload_activity(
        self,
        upload_id: str,
        results: Mapping[str, Any],
        upload: FileUpload,
        progress: UploadProgress,
        save: Callable[[UploadProgress], None],
    ) -> str:
        """Create the note once: after an unknown outcome, find it on the contact instead."""
        assert progress.contact_id
        marker = f"Sample data upload {upload_id}"
        if progress.activity_attempted_at is not None:
            self._wait_for_write_in_doubt(progress.activity_attempted_at)
            if found := self._find_note_on("contact", progress.contact_id, marker):
                return found
        progress.activity_attempted_at = time.time()
        save(progress)
        details = {
            "File": upload.filename,
            "Type": str(results.get("file_type", "")),
            "Size": _size_text(upload.size_bytes),
            "Rows": f"{results.get('row_count', 0):,}",
            "Columns": str(results.get("column_count", 0)),
            "Quality score": f"{results.get('quality_score', 0):.2f}",
        }
        link = html.escape(upload.results_url, quote=True)
        body = (
            f"{labelled_list(details)}<p>{html.escape(str(results.get('summary', '')))}</p>"
            f'<p><a href="{link}">Detailed analysis results</a></p><p>{marker}</p>'
        )
        note = self.client.log_activity(
            progress.contact_id,
            UPLOAD_ACTIVITY,
            {"body": body, "timestamp_ms": upload.uploaded_at_ms, "owner_id": self.owner_id},
        )
        return note.id

    def _find_note_on(self, object_type: str, object_id: str, marker: str) -> str | None:
        note_ids = self.client.associated_ids(object_type, object_id, "note")
        return find_note(self.client.read_notes(note_ids), marker)

    def _wait_for_write_in_doubt(self, attempted_at: float) -> None:
        """A create whose answer never came may still land; only look once it had time to."""
        wait_s = attempted_at + self.write_settle_s - time.time()
        if wait_s > 0:
            raise WriteInDoubt(wait_s)

    def _contact_id_by_email(self, email: str, conflict: HubSpotError) -> str:
        contact = self.client.find_contact(email)
        if contact is None:
            raise conflict
        return contact.id


def _size_text(size_bytes: int) -> str:
    """Bytes as a person reads them: 1.2 MB, 340 KB."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size_bytes >= factor:
            return f"{size_bytes / factor:.1f} {unit}"
    return f"{size_bytes} bytes"
