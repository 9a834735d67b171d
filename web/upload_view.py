"""What the visitor is told about an upload: status, message, stages and results.

One view serves the JSON status (`as_data`) and the status page, so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from settings import get_settings
from storage.uploads import Upload

MESSAGES = {
    "pending": "Waiting for your file to arrive.",
    "uploaded": "Your file has arrived and is waiting to be analysed.",
    "processing": "Analysing your file…",
}
CRM_MESSAGES = {
    "pending": "Analysis complete. Passing the results to our team…",
    "syncing": "Analysis complete. Passing the results to our team…",
    "synced": "Analysis complete. Our team has your results.",
    "failed": (
        "Analysis complete. We could not pass the results to our team automatically; "
        "they will follow up."
    ),
}
STAGE_LABELS = {
    "uploaded": "File received",
    "analysed": "Analysed",
    "recorded": "Recorded in our CRM",
}


@dataclass(frozen=True)
class Stage:
    name: str
    label: str
    #: done, current, waiting or failed
    state: str


@dataclass(frozen=True)
class UploadView:
    upload_id: str
    status: str
    message: str
    filename: str
    stages: tuple[Stage, ...]
    #: Nothing more will change: the page stops polling.
    finished: bool
    results: dict[str, Any] | None = None
    crm: dict[str, Any] | None = field(default=None)

    @property
    def size_text(self) -> str:
        """The file's size as a person reads it: 1.2 MB, 340 KB."""
        size = (self.results or {}).get("size_bytes", 0)
        for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
            if size >= factor:
                return f"{size / factor:.1f} {unit}"
        return f"{size} bytes"

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "upload_id": self.upload_id,
            "status": self.status,
            "message": self.message,
            "stages": [stage.__dict__ for stage in self.stages],
        }
        if self.status == "completed":
            data["results"] = self.results
            data["crm"] = self.crm
        return data


def status_view(row: Upload, results: dict[str, Any] | None) -> UploadView:
    status = row.status
    crm_status = row.crm_status if status == "completed" else None
    if status == "failed":
        message = row.message or "The upload failed. Start a new upload."
    elif status == "completed" and row.purged_at is not None:
        days = get_settings().upload_retention_days
        message = f"The file and its analysis were deleted after {days:g} days, as we promise."
    elif status == "completed":
        message = CRM_MESSAGES.get(crm_status or "pending", CRM_MESSAGES["pending"])
    else:
        message = MESSAGES.get(status, MESSAGES["pending"])
    crm = None
    if status == "completed":
        crm = {
            "status": crm_status,
            "contact_id": row.hubspot_contact_id,
            "activity_id": row.hubspot_activity_id,
        }
    return UploadView(
        upload_id=str(row.id),
        status=status,
        message=message,
        filename=row.filename,
        stages=_stages(row),
        finished=status == "failed" or crm_status in ("synced", "failed"),
        results=results if status == "completed" else None,
        crm=crm,
    )


def _stages(row: Upload) -> tuple[Stage, ...]:
    status, crm_status = row.status, row.crm_status
    received = row.uploaded_at is not None
    if status == "pending":
        states = ("current", "waiting", "waiting")
    elif status == "failed":
        states = ("done", "failed", "waiting") if received else ("failed", "waiting", "waiting")
    elif status in ("uploaded", "processing"):
        states = ("done", "current", "waiting")
    elif crm_status == "synced":
        states = ("done", "done", "done")
    elif crm_status == "failed":
        states = ("done", "done", "failed")
    else:
        states = ("done", "done", "current")
    return tuple(
        Stage(name, STAGE_LABELS[name], state)
        for name, state in zip(STAGE_LABELS, states, strict=True)
    )
