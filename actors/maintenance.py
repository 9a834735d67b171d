"""Periodic jobs: the sweeper that re-queues submissions whose message was lost.

A message can vanish (Redis restarted empty, the broker was down at submit time, a worker
was killed); the row cannot. Every worker process runs the schedule, and a Redis lock
lets one of them act per interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import Middleware

from actors import sync_control
from actors.alerts import run_alert_checks
from actors.broker import redis_client
from actors.sync import wake_up
from actors.uploads import upload_housekeeping
from settings import get_settings
from storage.admin import purge_expired_sessions
from storage.drafts import purge_expired_drafts
from storage.runner import database
from storage.submissions import claim_stale_submissions

log = logging.getLogger(__name__)


def sweep_stale_submissions() -> int:
    """Queue a sync for every stale row; returns how many were queued.

    Nothing while syncing is paused: the rows wait for the resume, which queues them all.
    """
    if sync_control.is_paused():
        return 0
    ids = database.run(claim_stale_submissions(get_settings().sweep_grace))
    if ids:
        wake_up(ids[0])  # a drain takes every due row, a batch at a time
        log.info("sweeper re-queued %d stale submission(s)", len(ids))
    return len(ids)


def purge_expired_drafts_now() -> int:
    """Unfinished forms past DRAFT_TTL are deleted; they never reach HubSpot."""
    return database.run(purge_expired_drafts())


def purge_expired_admin_sessions() -> int:
    """Sessions past their expiry are refused already; this only keeps the table small."""
    return database.run(purge_expired_sessions())


#: name -> job; each runs at most once per sweep interval across all processes.
PERIODIC_JOBS: dict[str, Callable[[], object]] = {
    "sweep": sweep_stale_submissions,
    "alerts": run_alert_checks,
    "uploads": upload_housekeeping,
    "drafts": purge_expired_drafts_now,
    "admin_sessions": purge_expired_admin_sessions,
}


class Scheduler(Middleware):
    """Runs `PERIODIC_JOBS` on a daemon thread in each worker process.

    One schedule a process: it follows the first worker to boot, not the analysis worker
    that boots beside it (`actors.analysis_workers`).
    """

    def __init__(self) -> None:
        self._worker: dramatiq.Worker | None = None
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._worker is not None:
            return
        self._worker = worker
        # An event of its own: a loop still winding down from an earlier worker stays stopped.
        self._stop = threading.Event()
        threading.Thread(
            target=self._loop, args=(self._stop,), name="scheduler", daemon=True
        ).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if worker is self._worker:
            self._stop.set()
            self._worker = None

    def _loop(self, stop: threading.Event) -> None:
        interval_s = get_settings().sweep_interval
        while not stop.wait(interval_s):
            for name, job in PERIODIC_JOBS.items():
                self._run_once_per_interval(name, job, interval_s)

    @staticmethod
    def _run_once_per_interval(name: str, job: Callable[[], object], interval_s: float) -> None:
        try:
            lock = f"leadsync:schedule:{name}"
            if redis_client().set(lock, "1", nx=True, px=max(1, int(interval_s * 900))):
                job()
        except Exception:
            log.exception("periodic job %s failed; it runs again next interval", name)
