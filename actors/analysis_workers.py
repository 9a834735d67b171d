"""Upload analysis on worker threads of its own, so hostile files cannot starve lead sync.

A Dramatiq worker shares one thread pool among all its queues: four slow analyses used to
hold every thread while leads waited minutes for HubSpot. `AnalysisWorkers` splits each
process's worker in two, whichever way it runs (`dramatiq actors.worker`, the embedded
lifespan, tests): the worker Dramatiq starts keeps every queue but the analysis queue,
and a second `Worker` with `ANALYSIS_WORKER_THREADS` threads consumes the analysis queue
alone. A worker told its queues (`dramatiq actors.worker --queues uploads`) is left as
told, so an operator can still run analysis-only or sync-only processes.

Dramatiq advises one `Worker` a process because every middleware hears each worker boot
and stop; of ours only `actors.maintenance.Scheduler` cares, and it follows the first.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.common import q_name
from dramatiq.middleware import Middleware

from actors.broker import stop_worker
from actors.uploads import analyse_upload
from settings import get_settings

log = logging.getLogger(__name__)

#: The queue analysis runs on; the upload's HubSpot update stays on the sync queue.
ANALYSIS_QUEUE = analyse_upload.queue_name
#: Milliseconds a stopping process waits for analyses in progress. One still running is
#: abandoned: the sweeper queues it again once its lease (`ANALYSIS_LEASE_S`) ends, which
#: beats holding every deploy for up to the 10-minute analysis time limit.
ANALYSIS_STOP_TIMEOUT_MS = 30_000


class AnalysisWorkers(Middleware):
    """Narrows each untold worker to the non-analysis queues and runs analysis beside it."""

    def __init__(self) -> None:
        #: Each narrowed worker -> the analysis worker that runs beside it.
        self._analysis: dict[dramatiq.Worker, dramatiq.Worker] = {}

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if worker.consumer_whitelist:
            return  # told its queues: an operator's choice, or an analysis worker of ours
        # Dramatiq matches a whitelist on canonical names, so `uploads.DQ` (retries waiting
        # their backoff) goes with `uploads`, and dead letters (`.XQ`) are never consumed.
        queues = {q_name(name) for name in broker.get_declared_queues()} - {ANALYSIS_QUEUE}
        worker.consumer_whitelist = queues
        self._analysis[worker] = dramatiq.Worker(
            broker,
            queues={ANALYSIS_QUEUE},
            worker_threads=get_settings().analysis_worker_threads,
            worker_timeout=worker.worker_timeout,
        )

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        analysis = self._analysis.get(worker)
        if analysis is None:
            return
        # Dramatiq warns of a second worker's consumer hook on the broker; this one is meant.
        quiet = _MeantSecondWorker()
        broker.logger.addFilter(quiet)
        try:
            analysis.start()
        finally:
            broker.logger.removeFilter(quiet)
        log.info(
            "lead sync on %d worker thread(s) (%s); analysis on %d of its own (%s)",
            worker.worker_threads,
            ", ".join(sorted(worker.consumer_whitelist or ())),
            analysis.worker_threads,
            ANALYSIS_QUEUE,
        )

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        analysis = self._analysis.pop(worker, None)
        if analysis is None:
            return
        # First, while the sync threads still run: nothing waits on them meanwhile. Its
        # hook sits after this middleware, so unhooking it leaves this emit's loop intact.
        stop_worker(analysis, ANALYSIS_STOP_TIMEOUT_MS)


class _MeantSecondWorker(logging.Filter):
    """Drops Dramatiq's "same type twice" warning, which names the worker's consumer hook."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("You're adding a middleware of the same type")
