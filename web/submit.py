"""Accepting a submission: validate, store, then queue — the one path every form takes.

The row is committed before the message is sent, so a broker outage loses nothing: the
row stays `pending` and the sweeper queues it later.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.services import crm_service
from actors.sync import sync_submission
from crm.service import InvalidSubmission
from storage.submissions import create_submission

log = logging.getLogger(__name__)


@dataclass
class Accepted:
    submission_id: uuid.UUID | None = None
    errors: dict[str, str] = field(default_factory=dict)
    queued: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


async def accept_submission(form_type: str, raw: Mapping[str, Any]) -> Accepted:
    submission_id = uuid.uuid4()
    try:
        payload = crm_service().build_payload(raw, form_type, str(submission_id))
    except InvalidSubmission as exc:
        return Accepted(errors=exc.errors)
    await create_submission(
        submission_id=submission_id,
        form_type=form_type,
        email=payload.contact_properties["email"],
        raw_fields=raw,
        contact_properties=payload.contact_properties,
        deal_properties=payload.deal_properties,
        summary=payload.summary,
    )
    # A slow or unreachable Redis must not stall the event loop serving other visitors.
    queued = await asyncio.to_thread(enqueue_sync, submission_id)
    return Accepted(submission_id=submission_id, queued=queued)


def enqueue_sync(submission_id: uuid.UUID) -> bool:
    """Queue the sync; a broker failure is logged, never shown: the row is already safe."""
    try:
        sync_submission.send(str(submission_id))
    except Exception:
        log.exception("could not queue submission %s; the sweeper will", submission_id)
        return False
    return True
