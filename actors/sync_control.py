"""The switch that pauses syncing to HubSpot, one for every web and worker process.

While paused, `sync_submission` and `record_upload_in_crm` drop their messages before
claiming the row (it stays `pending`, no retry is used) and the periodic jobs queue no
HubSpot work; forms are still accepted and stored, and uploads still analysed. A sync
already under way finishes. Resuming queues every waiting row again (`actors.requeue`).

Redis key: `leadsync:sync:paused` holds the epoch seconds the pause began; absent means
syncing runs. It lives in the Redis of the breaker, so the embedded (in-memory) Redis
forgets a pause when the process restarts.
"""

from __future__ import annotations

import datetime as dt
import time

from actors.broker import redis_client

PAUSED_KEY = "leadsync:sync:paused"


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
