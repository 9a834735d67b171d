"""The switch that pauses syncing to HubSpot, one for every web and worker process.

While paused, `sync_submission` and `record_upload_in_crm` drop their messages before
claiming the row (it stays `pending`, no retry is used) and the periodic jobs queue no
HubSpot work; forms are still accepted and stored, and uploads still analysed. A sync
already under way finishes. Resuming queues every waiting row again (`actors.requeue`).

Redis keys: `leadsync:sync:paused` holds the epoch seconds the pause began; absent means
syncing runs. It lives in the Redis of the breaker, so the embedded (in-memory) Redis
forgets a pause when the process restarts. `leadsync:sync:wake:<actor>` exists while one
wake-up waits for the breaker to let calls through.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import dramatiq

from actors.broker import redis_client
from actors.services import circuit_breaker

log = logging.getLogger(__name__)

PAUSED_KEY = "leadsync:sync:paused"
#: Set while a wake-up waits for the breaker to let calls through again (`held_back`).
WAKE_KEY = "leadsync:sync:wake"


def pause() -> bool:
    """Pause syncing; False when it was paused already (the first pause's time is kept)."""
    return bool(redis_client().set(PAUSED_KEY, str(time.time()), nx=True))


def resume() -> bool:
    """Let syncing run again; False when it was not paused. Queue the waiting rows after."""
    return bool(redis_client().delete(PAUSED_KEY))


def paused_since() -> dt.datetime | None:
    """When syncing was paused; None while it runs."""
    raw = redis_client().get(PAUSED_KEY)
    return dt.datetime.fromtimestamp(float(raw), dt.UTC) if raw is not None else None


def is_paused() -> bool:
    return bool(redis_client().exists(PAUSED_KEY))


def held_back(actor: dramatiq.Actor, record_id: str, *, once: bool = False) -> bool:
    """Whether a HubSpot job for `record_id` must not run now, neither claiming its row nor
    using a retry: syncing is paused (the row waits for the resume to queue it again), or
    the breaker is open (the job comes back when the breaker lets probes through).

    With `once`, the actor's messages are wake-ups for whatever waits: of the thousands a
    backlog may hold, one comes back per open breaker, the rest are dropped.
    """
    if is_paused():
        log.info("syncing is paused; %s(%s) waits for the resume", actor.actor_name, record_id)
        return True
    if (open_s := circuit_breaker().remaining_open_s()) > 0:
        delay_ms = max(1, int(open_s * 1000))
        key = f"{WAKE_KEY}:{actor.actor_name}"
        if not once or redis_client().set(key, "1", nx=True, px=delay_ms):
            actor.send_with_options(args=(record_id,), delay=delay_ms)
        return True
    return False
