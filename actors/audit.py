"""The audit log of HubSpot calls: every call the client makes becomes a row.

The client calls hooks from worker threads, in the middle of a sync; writing a row per
call there would add a database round trip to every HubSpot call. Records are buffered
and the actor writes them in one insert when its sync ends (success or not).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from crm.client import CallRecord
from crm.errors import HubSpotError
from storage.runner import database
from storage.tables import HubSpotCall

#: What the calls being made are for: (the record's id, or a sync batch's id), so each
#: row names it.
_current: contextvars.ContextVar[tuple[str | None, uuid.UUID | None]] = contextvars.ContextVar(
    "current_record", default=(None, None)
)


#: What an e-mail address looks like inside HubSpot's error messages.
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_MASK = "[e-mail]"

#: Rows kept when nobody flushes (a process that calls HubSpot outside an actor).
MAX_BUFFERED = 10_000


class CallAudit:
    """A `CallHook` that buffers one `HubSpotCall` row per call.

    The rows are kept as plain values and made into table rows only when written, so they
    take the defaults of the engine they are written to.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []

    def before_call(self, operation: str) -> None:
        pass

    def after_call(self, record: CallRecord) -> None:
        # A batch write HubSpot took but refused inputs of counts as failed, in the kind of
        # its first refusal. A batch call's row keeps no HubSpot message: it may quote a
        # person's values, and an erasure finds the person's rows, not their batches'.
        error = record.error or (record.refused[0] if record.refused else None)
        submission_id, batch_id = _current.get()
        described = None
        if error is not None:
            described = error.describe() if batch_id is None else _without_message(record, error)
        row = {
            "at": dt.datetime.now(dt.UTC),  # the call's time, not the write's
            "operation": record.operation,
            "status": record.status,
            "outcome": error.kind.value if error else "ok",
            "duration_ms": round(record.duration_ms, 2),
            "object_id": record.object_id,
            "submission_id": uuid.UUID(submission_id) if submission_id else None,
            "batch_id": batch_id,
            "correlation_id": (error.correlation_id if error else None)
            or record.headers.get("x-hubspot-correlation-id"),
            "error": mask_emails(described) if described else None,
        }
        with self._lock:
            self._rows.append(row)
            del self._rows[:-MAX_BUFFERED]

    @contextlib.contextmanager
    def logged_under(
        self, record_id: str | None, *, batch_id: uuid.UUID | None = None
    ) -> Iterator[None]:
        """A job's HubSpot calls, filed under the record they are made for (or the sync
        batch, whose members `sync_batch_members` lists) and written when the job ends
        (success or not). The context is reset after: a worker thread keeps it, and its
        next job's calls are not this record's."""
        audited = _current.set((record_id, batch_id))
        try:
            yield
        finally:
            _current.reset(audited)
            database.run(self.flush())

    async def flush(self) -> int:
        """Write the buffered rows; returns how many."""
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            await HubSpotCall.insert(*(HubSpotCall(**row) for row in rows))
        return len(rows)


def _without_message(record: CallRecord, error: HubSpotError) -> str:
    """A batch call's failure as the log keeps it: what failed, never HubSpot's words."""
    refused = f"{len(record.refused)} input(s) refused, " if record.refused else ""
    answer = f"HTTP {record.status}" if record.status else "no answer"
    return f"{record.operation}: {refused}{error.kind.value}, {answer}"


def mask_emails(text: str) -> str:
    """HubSpot's messages may quote the address they refused. The log keeps no personal
    data of its own, so erasing a person's rows (by their ids) leaves none behind."""
    return EMAIL.sub(EMAIL_MASK, text)
