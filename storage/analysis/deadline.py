"""A cooperative time limit: readers and the profiler check it as they go, so a hostile file
fails with a message instead of holding a worker thread until the worker's hard limit."""

from __future__ import annotations

import math
import time

from storage.analysis import errors


class Deadline:
    """Fails the analysis once `limit_s` seconds have passed since it started (None: never).

    `check` costs one clock read; callers call it every chunk read or batch of rows, so the
    overrun is at most one chunk's or one batch's work.
    """

    def __init__(self, limit_s: float | None) -> None:
        self._limit_s = math.inf if limit_s is None else limit_s
        self._at = time.monotonic() + self._limit_s

    def check(self) -> None:
        if time.monotonic() > self._at:
            raise errors.too_slow(self._limit_s)
