"""What `dramatiq actors.worker` loads: the broker and every actor module."""

from __future__ import annotations

from actors import sync, uploads  # noqa: F401  (declare their actors on the broker)
from actors.broker import broker
from actors.maintenance import Scheduler

broker.add_middleware(Scheduler())

__all__ = ["broker"]
