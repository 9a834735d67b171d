"""The dashboard's levers: retry one failed submission or all of them, pause and resume
syncing, reset the circuit breaker. Each is a POST (CSRF and sign-in are checked before
it runs), leaves a line in the admin audit trail, and returns the admin to the page the
lever was on, with a fixed notice saying what happened.

The state the levers change (the pause switch, the breaker) is shown on every page that
has levers, read from Redis: a Redis that does not answer is said so, never a crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from actors import sync_control
from actors.requeue import queue_waiting_work, retry_failed_submissions
from actors.services import circuit_breaker
from storage import submissions
from storage.admin import record_action
from web.admin.auth import current_admin
from web.admin.querystring import NOTICE_PARAM, back_with_notice, here
from web.submit import enqueue_sync

log = logging.getLogger(__name__)

#: What each lever's notice says; the URL names only the key, so no text is ever echoed.
NOTICES = {
    "retried": "The submission is pending again; it syncs next (after the resume, if paused).",
    "not_failed": "That submission has not failed, so there was nothing to retry.",
    "retrying_all": "Every failed submission is being set back to pending and queued.",
    "paused": "Syncing is paused. Forms are still accepted and stored as pending.",
    "already_paused": "Syncing was paused already.",
    "resumed": "Syncing resumed. Every pending submission is being queued.",
    "not_paused": "Syncing was not paused.",
    "breaker_reset": "The circuit breaker is closed: HubSpot calls go out again.",
}


@dataclass(frozen=True)
class SyncState:
    """The switches the levers work, as Redis holds them; `known` is False without Redis."""

    known: bool
    paused_since: dt.datetime | None = None
    breaker: str = "closed"


def read_sync_state() -> SyncState:
    """Blocking (two Redis reads): call it off the event loop."""
    try:
        return SyncState(True, sync_control.paused_since(), circuit_breaker().state().state)
    except redis.RedisError:
        log.exception("could not read the sync switches from Redis")
        return SyncState(False)


async def lever_context(request: Request) -> dict[str, Any]:
    """What a page with levers renders: the switches, the notice, the way back."""
    return {
        "sync_state": await asyncio.to_thread(read_sync_state),
        "notice": NOTICES.get(request.query_params.get(NOTICE_PARAM, "")),
        "here": here(request),
    }


async def _done(request: Request, notice: str) -> Response:
    """Back to the page the lever was on (its form's `next`), showing `notice`."""
    form = await request.form()
    target = form.get("next")
    return RedirectResponse(
        back_with_notice(target if isinstance(target, str) else None, notice), status_code=303
    )


async def retry_submission(request: Request) -> Response:
    submission_id: uuid.UUID = request.path_params["submission_id"]
    if not await submissions.retry_failed(submission_id):
        return await _done(request, "not_failed")
    await asyncio.to_thread(enqueue_sync, submission_id)
    await record_action(current_admin(request), "retry_submission", str(submission_id))
    return await _done(request, "retried")


async def retry_all_failed(request: Request) -> Response:
    failed = await submissions.count_failed()
    await asyncio.to_thread(retry_failed_submissions.send, time.time())
    await record_action(current_admin(request), "retry_all_failed", detail={"failed": failed})
    return await _done(request, "retrying_all")


async def pause_sync(request: Request) -> Response:
    if not await asyncio.to_thread(sync_control.pause):
        return await _done(request, "already_paused")
    await record_action(current_admin(request), "pause_sync")
    return await _done(request, "paused")


async def resume_sync(request: Request) -> Response:
    if not await asyncio.to_thread(sync_control.resume):
        return await _done(request, "not_paused")
    await asyncio.to_thread(queue_waiting_work.send)
    await record_action(current_admin(request), "resume_sync")
    return await _done(request, "resumed")


async def reset_breaker(request: Request) -> Response:
    breaker = circuit_breaker()
    before = await asyncio.to_thread(breaker.state)
    await asyncio.to_thread(breaker.reset)
    await record_action(current_admin(request), "reset_breaker", detail={"was": before.state})
    return await _done(request, "breaker_reset")


routes = [
    Route(
        "/submissions/{submission_id:uuid}/retry",
        retry_submission,
        methods=["POST"],
        name="admin_retry_submission",
    ),
    Route(
        "/submissions/retry-failed", retry_all_failed, methods=["POST"], name="admin_retry_failed"
    ),
    Route("/sync/pause", pause_sync, methods=["POST"], name="admin_pause_sync"),
    Route("/sync/resume", resume_sync, methods=["POST"], name="admin_resume_sync"),
    Route("/breaker/reset", reset_breaker, methods=["POST"], name="admin_reset_breaker"),
]
