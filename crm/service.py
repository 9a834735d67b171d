"""`CRMService`: the business steps of a sync, each safe to run again after any failure.

A sync is contact upsert -> deal upsert -> deal/contact association -> activity note.
`SyncProgress` records what is already done, so a retry resumes instead of repeating:
the caller persists it after every step (`save`).
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crm.client import DEAL_TO_CONTACT, HubSpotClient
from crm.errors import ErrorKind, HubSpotError
from crm.mapping import PropertyMap


class InvalidSubmission(ValueError):
    """Form data that fails validation; `errors` maps each field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class WriteInDoubt(Exception):
    """A create was sent and never answered; look for its result after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"an unanswered write may still land; looking again in {retry_after_s:.1f} s"
        )
        self.retry_after_s = retry_after_s


@dataclass
class SyncProgress:
    contact_id: str | None = None
    deal_id: str | None = None
    association_verified: bool = False
    #: When a note create was sent (epoch s); its answer may be lost, so look before resending.
    activity_attempted_at: float | None = None
    activity_id: str | None = None

    @property
    def done(self) -> bool:
        return bool(
            self.contact_id and self.deal_id and self.association_verified and self.activity_id
        )


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


@dataclass(frozen=True)
class SubmissionPayload:
    """What one submission writes to HubSpot, already mapped."""

    submission_id: str
    form_type: str
    contact_properties: Mapping[str, str]
    deal_properties: Mapping[str, str]
    summary: Mapping[str, str]
    submitted_at_ms: int


class CRMService:
    def __init__(
        self,
        client: HubSpotClient,
        property_map: PropertyMap,
        owner_id: str | None = None,
        timeline_template_id: str | None = None,
        privacy_policy_version: str = "",
        write_settle_s: float = 30.0,
    ) -> None:
        self.client = client
        self.map = property_map
        self.owner_id = owner_id
        #: Private apps cannot write custom timeline events, so notes are the default.
        self.timeline_template_id = timeline_template_id
        self.privacy_policy_version = privacy_policy_version
        #: Seconds after sending a create with no answer before looking for what it made.
        self.write_settle_s = write_settle_s

    def process_form_submission(
        self, form_data: Mapping[str, Any], form_type: str, submission_id: str | None = None
    ) -> dict[str, str | None]:
        """Validate, map and sync one form in one go; returns the HubSpot ids."""
        payload = self.build_payload(form_data, form_type, submission_id or str(uuid.uuid4()))
        progress = self.sync(payload, SyncProgress())
        return {
            "contact_id": progress.contact_id,
            "deal_id": progress.deal_id,
            "activity_id": progress.activity_id,
        }

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

    def sync(
        self,
        payload: SubmissionPayload,
        progress: SyncProgress,
        save: Callable[[SyncProgress], None] = lambda progress: None,
    ) -> SyncProgress:
        """Run the steps not yet done, saving progress after each one."""
        if not progress.contact_id:
            progress.contact_id = self.create_or_update_contact(payload.contact_properties)
            save(progress)
        if not progress.deal_id:
            progress.deal_id = self.create_deal_for_contact(
                progress.contact_id, payload.deal_properties
            )
            save(progress)
        if not progress.association_verified:
            self.ensure_deal_associated(progress.deal_id, progress.contact_id)
            progress.association_verified = True
            save(progress)
        if not progress.activity_id:
            progress.activity_id = self.log_submission_activity(payload, progress, save)
            save(progress)
        return progress

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

    def create_deal_for_contact(self, contact_id: str, deal_data: Mapping[str, str]) -> str:
        """Upsert the deal on its unique submission id, so a lost answer never duplicates it."""
        id_property = self.map.deal_idempotency_property
        deal = self.client.upsert_deal(id_property, deal_data[id_property], deal_data)
        return deal.id

    def ensure_deal_associated(self, deal_id: str, contact_id: str) -> None:
        """Associate, then believe only the association HubSpot reports back, not the 2xx."""
        type_ids = self.client.associate_deal_with_contact(deal_id, contact_id)
        if DEAL_TO_CONTACT not in type_ids:
            raise HubSpotError(
                ErrorKind.TRANSIENT,
                f"HubSpot answered without the deal {deal_id} -> contact {contact_id} association",
                operation="associate_deal_contact",
            )

    def log_submission_activity(
        self,
        payload: SubmissionPayload,
        progress: SyncProgress,
        save: Callable[[SyncProgress], None],
    ) -> str:
        """Create the note once: after an unknown outcome, find it on the deal instead."""
        marker = f"Submission {payload.submission_id}"
        assert progress.contact_id and progress.deal_id
        title = self.map.form(payload.form_type).title
        if self.timeline_template_id:
            return self.client.create_timeline_event(
                self.timeline_template_id,
                f"submission-{payload.submission_id}",
                progress.contact_id,
                {
                    "formName": title,
                    "formType": payload.form_type,
                    "submissionId": payload.submission_id,
                    "dealId": progress.deal_id,
                },
                payload.submitted_at_ms,
            ).id
        if progress.activity_attempted_at is not None:
            self._wait_for_write_in_doubt(progress.activity_attempted_at)
            if found := self._find_note(progress.deal_id, marker):
                return found
        progress.activity_attempted_at = time.time()
        save(progress)
        rows = "".join(
            f"<li><strong>{html.escape(label)}:</strong> {html.escape(value)}</li>"
            for label, value in payload.summary.items()
        )
        note = self.client.log_activity(
            progress.contact_id,
            f"Website form: {title}",
            {
                "body": f"<ul>{rows}</ul><p>{marker}</p>",
                "timestamp_ms": payload.submitted_at_ms,
                "deal_id": progress.deal_id,
                "owner_id": self.owner_id,
            },
        )
        return note.id

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

        Steps resume from `progress` like `sync`, saved after each one.
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
        rows = "".join(
            f"<li><strong>{html.escape(label)}:</strong> {html.escape(value)}</li>"
            for label, value in details.items()
        )
        link = html.escape(upload.results_url, quote=True)
        body = (
            f"<ul>{rows}</ul><p>{html.escape(str(results.get('summary', '')))}</p>"
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
        for note in self.client.read_notes(note_ids):
            if marker in (note.properties.get("hs_note_body") or ""):
                return note.id
        return None

    def _wait_for_write_in_doubt(self, attempted_at: float) -> None:
        """A create whose answer never came may still land; only look once it had time to."""
        wait_s = attempted_at + self.write_settle_s - time.time()
        if wait_s > 0:
            raise WriteInDoubt(wait_s)

    def _find_note(self, deal_id: str, marker: str) -> str | None:
        note_ids = self.client.associated_ids("deal", deal_id, "note")
        for note in self.client.read_notes(note_ids):
            if marker in (note.properties.get("hs_note_body") or ""):
                return note.id
        return None

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
