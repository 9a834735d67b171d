"""Making the sandbox misbehave on purpose, so every resilience path of a client can be
tested: 5xx answers, answers slower than the client's timeout, answers lost after the
write, full outages, credential failures and rate-limit storms.

``app.state.faults`` holds a ``FaultPlan``; the request gate asks it about every API
request (never the sandbox's own pages) before anything else happens. Tests configure
it in Python (``configure(**options)`` / ``clear()``) or over HTTP (``/_sandbox/faults``).
Rates are drawn from a seeded ``random.Random`` so runs are reproducible; the ``*_s``
windows run on the sandbox's injectable clock so tests can move time past them.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .faultoptions import WINDOWS, FaultOptions

COUNTERS = ("errors", "timeouts", "lost_answers", "outage", "auth_failures", "rate_limited_storm")
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
#: POSTs that only read, so losing their answer loses nothing worth testing.
_READING_POST = re.compile(r"/(search|batch/read)$")


def is_write(method: str, path: str) -> bool:
    return method in _WRITE_METHODS and not _READING_POST.search(path)


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    #: Wait this long (real seconds, not the injected clock) before going on.
    delay_s: float = 0.0
    #: Answer with this status instead of handling the request (nothing is written).
    status: int | None = None
    #: Handle the request (the write happens), then answer this status instead.
    status_after_write: int | None = None
    #: Handle the request, then close the connection without answering at all.
    drop_answer: bool = False


class FaultPlan:
    """Decides per API request whether to misbehave; a fresh or cleared plan never does.

    Subclasses may still override ``fault_for`` for a bespoke fault.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # configured from test threads, read by the server's
        self.clear()

    def clear(self) -> None:
        """No faults, counters at zero, the random stream back at the default seed."""
        with self._lock:
            self._options = FaultOptions()
            self._rng = random.Random(self._options.seed)
            self._until: dict[str, float] = {}
            self._counters = dict.fromkeys(COUNTERS, 0)

    def configure(self, **options: Any) -> FaultPlan:
        """Change the given options, keep the others; ``*_s`` windows start now and a
        ``seed`` restarts the random stream. ``ValueError`` for an unknown or bad option."""
        with self._lock:
            updated = self._options.updated(**options)
            now = self._clock()
            for option in WINDOWS:
                if option in options:
                    self._until[option] = now + getattr(updated, option)
            if "seed" in options:
                self._rng = random.Random(updated.seed)
            self._options = updated
        return self

    @property
    def options(self) -> FaultOptions:
        return self._options

    @property
    def counters(self) -> dict[str, int]:
        """How many of each fault were served so far."""
        with self._lock:
            return dict(self._counters)

    def remaining_s(self) -> dict[str, float]:
        """Seconds left of each window (``outage``, ``auth_failure``, ``rate_limit_storm``)."""
        with self._lock:
            now = self._clock()
            return {o.removesuffix("_s"): max(0.0, self._until.get(o, now) - now) for o in WINDOWS}

    @property
    def active(self) -> bool:
        o = self._options
        rates = (o.error_rate, o.timeout_rate, o.lost_answer_rate, o.delay_s)
        return any(rates) or any(self.remaining_s().values())

    def describe(self) -> dict[str, Any]:
        """The JSON of ``GET /_sandbox/faults``."""
        return {
            "active": self.active,
            "plan": self._options.to_json(),
            "remaining_s": self.remaining_s(),
            "counters": self.counters,
        }

    def fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            o = self._options
            # Always four draws while any rate is set, so one option never shifts another's.
            if o.error_rate or o.timeout_rate or o.lost_answer_rate:
                err, pick, slow, lost = (self._rng.random() for _ in range(4))
            else:
                err = pick = slow = lost = 1.0
            status = self._window_status()
            if status is None and err < o.error_rate:
                statuses = o.error_statuses
                status = statuses[min(int(pick * len(statuses)), len(statuses) - 1)]
                self._counters["errors"] += 1
            if status is not None:
                return Fault(delay_s=o.delay_s, status=status)
            delay = o.delay_s
            if slow < o.timeout_rate:
                delay += o.timeout_s
                self._counters["timeouts"] += 1
            drop = lost < o.lost_answer_rate and is_write(method, path)
            if drop:
                self._counters["lost_answers"] += 1
            return Fault(delay_s=delay, drop_answer=drop) if delay or drop else None

    def _window_status(self) -> int | None:
        """The status every request gets while a window is open (outage wins: nothing
        behind a dead edge checks tokens or counts requests)."""
        now = self._clock()
        for option, counter, status in (
            ("outage_s", "outage", self._options.outage_status),
            ("auth_failure_s", "auth_failures", 401),
            ("rate_limit_storm_s", "rate_limited_storm", 429),
        ):
            if self._until.get(option, now) > now:
                self._counters[counter] += 1
                return status
        return None
