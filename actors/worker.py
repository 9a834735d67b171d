"""What `dramatiq actors.worker` loads: the broker and every actor module."""

from __future__ import annotations

import sys

from actors import erasure, requeue, sync, uploads  # noqa: F401  (declare their actors on the broker)
from actors.analysis_workers import AnalysisWorkers
from actors.broker import broker
from actors.maintenance import Scheduler

broker.add_middleware(AnalysisWorkers())
broker.add_middleware(Scheduler())

if "dramatiq.cli" in sys.modules:
    # Dramatiq's own metrics (messages, errors, retries, durations per actor), served by
    # a process the CLI forks, on dramatiq_prom_host:dramatiq_prom_port (0.0.0.0:9191).
    # Only the CLI boots it: the web process imports this module too, and an in-process
    # worker never runs the middleware's set-up, so its hooks would fail every message.
    from dramatiq.middleware.prometheus import Prometheus

    broker.add_middleware(Prometheus())

__all__ = ["broker"]
