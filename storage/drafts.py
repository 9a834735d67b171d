"""Unfinished forms: the steps a visitor completed, kept server-side until they submit.

A draft is never synced to HubSpot: only the final submit creates a `Submission`, and
deletes the draft. Drafts nobody comes back to expire; `purge_expired_drafts` removes them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from piccolo.columns import JSON, UUID, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from storage.storable import decode_object


class Draft(Table, tablename="drafts"):
    """The fields of the completed steps of one form, and the step the visitor reached."""

    id = UUID(primary_key=True)
    form_type = Varchar(length=32)
    fields = JSON(help_text="field name -> value as posted (phone normalised)")
    step = Varchar(length=32, help_text="key of the step to show next (web/steps.py)")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(default=TimestamptzNow(), index=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def save_draft(
    *,
    form_type: str,
    fields: Mapping[str, Any],
    step: str,
    ttl_s: float,
    draft_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Store the draft and push its expiry `ttl_s` seconds out; returns its id.

    `draft_id` updates that draft while it is live; a gone or expired one gets a new id,
    so an id once purged is never brought back.
    """
    now = _now()
    expires_at = now + dt.timedelta(seconds=ttl_s)
    if draft_id is not None:
        updated = (
            await Draft.update(
                {
                    Draft.fields: dict(fields),
                    Draft.step: step,
                    Draft.updated_at: now,
                    Draft.expires_at: expires_at,
                }
            )
            .where(
                (Draft.id == draft_id) & (Draft.form_type == form_type) & (Draft.expires_at > now)
            )
            .returning(Draft.id)
        )
        if updated:
            return draft_id
    row = Draft(
        id=uuid.uuid4(),
        form_type=form_type,
        fields=dict(fields),
        step=step,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )
    await row.save()
    return row.id


async def load_draft(draft_id: uuid.UUID, form_type: str) -> Draft | None:
    """The live draft of that form, or None when it is unknown, of another form or expired."""
    query = Draft.objects().where(
        (Draft.id == draft_id) & (Draft.form_type == form_type) & (Draft.expires_at > _now())
    )
    return decode_object(await query.first())


async def delete_drafts(*draft_ids: uuid.UUID) -> None:
    if draft_ids:
        await Draft.delete().where(Draft.id.is_in(list(draft_ids)))


async def purge_expired_drafts() -> int:
    """Delete every expired draft (for a periodic job); returns how many went."""
    rows = await Draft.delete().where(Draft.expires_at <= _now()).returning(Draft.id)
    return len(rows)
