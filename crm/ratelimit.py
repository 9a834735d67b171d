"""HubSpot's request budget, shared in Redis by every worker: calls wait their turn.

A rolling burst window (100 calls per 10 s by default) and a daily quota (250,000), both
settings. HubSpot's own count of its window (`X-HubSpot-RateLimit-*` headers) fills ours
when it is fuller, and a 429 pauses everyone for as long as HubSpot asks.
Batches of leads also take one of a few batch slots, so they do not crowd the budget.

Time is the Redis server's (`TIME`), never the caller's clock: the window, the pauses and
the UTC day the quota counts are the same for every process.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError
from crm.lua import now_arg, script

_BUDGET_SCRIPT = script("ratelimit")
_SLOTS_SCRIPT = script("batch_slots")

#: Calls reach HubSpot a little after they take their slot, some later than others: each
#: slot counts this much longer than HubSpot's window, so HubSpot's own count of its
#: rolling window never tops the limit (at full speed every call is at its edge).
WINDOW_MARGIN_S = 0.5
#: Calls per second one batch of leads makes (about 4 calls of up to 100 leads, each
#: taking a few tenths of a second). More batches at once than the burst budget feeds
#: at this pace only queue for it, and each takes longer; fewer leave budget unused.
BATCH_CALLS_PER_S = 2.5


class RateLimiter:
    """Also a `CallHook`: `before_call` blocks until a slot is free."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        burst_limit: int = 100,
        window_s: float = 10.0,
        daily_limit: int = 250_000,
        max_wait_s: float = 30.0,
        prefix: str = "leadsync:ratelimit",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`clock` (epoch seconds) is for tests only; None takes Redis's time."""
        self._redis = client
        self._budget = client.register_script(_BUDGET_SCRIPT)
        self._slots = client.register_script(_SLOTS_SCRIPT)
        self._prefix = prefix
        self.burst_limit = burst_limit
        self.window_s = window_s
        self.daily_limit = daily_limit
        self.max_wait_s = max_wait_s
        self._clock = clock
        self.sleep = sleep
        #: The batch slot this thread holds, if any: renewed whenever it asks for a call.
        self._held = threading.local()

    def acquire(self) -> None:
        """Wait for a slot; past `max_wait_s` (or a spent daily quota) raise RATE_LIMITED.

        The raise lets the actor put the job back with a delay instead of holding a thread.
        A batch slot this thread holds is renewed at every turn: a batch is alive while it
        calls, so a dead worker's slot frees after one hold, however long batches run.
        """
        waited = 0.0
        while True:
            if slot := getattr(self._held, "slot", None):
                slot.renew()
            granted, wait = self._run(
                "acquire", self.burst_limit, self._counted_s, self.daily_limit, uuid.uuid4().hex
            )
            wait_s = float(wait)
            if int(granted) == 1:
                return
            if int(granted) == -1 or waited + wait_s > self.max_wait_s:
                reason = "daily API quota is used up" if int(granted) == -1 else "request budget"
                raise HubSpotError(
                    ErrorKind.RATE_LIMITED,
                    f"waiting for HubSpot's {reason}",
                    retry_after_s=wait_s,
                    operation="rate_limiter",
                )
            self.sleep(wait_s)
            waited += wait_s

    def pause(self, seconds: float) -> None:
        """Hold every process back for `seconds`, in one step in Redis: a longer pause
        already set (or set at the same moment by another process) is never shortened."""
        self._run("pause", seconds)

    def used_today(self) -> int:
        """Calls counted against the quota since 00:00 UTC (Redis time)."""
        return int(self._run("used"))

    def assume_idle(self) -> None:
        """Declare that no call was made in the last window (a Redis nobody else used).

        Without it, a limiter that finds no record waits one window before the first call.
        """
        self._redis.set(f"{self._prefix}:known", "1")

    @property
    def _counted_s(self) -> float:
        return self.window_s + WINDOW_MARGIN_S

    def _run(self, op: str, *args: object) -> Any:
        """The budget script's answer to `op` (see the top of `lua/ratelimit.lua`)."""
        keys = [f"{self._prefix}:{name}" for name in ("window", "daily", "pause", "known")]
        return self._budget(keys=keys, args=[op, now_arg(self._clock), *args])

    # Batch slots

    @property
    def batches_at_once(self) -> int:
        """Batch slots: as many batches as the burst budget feeds at `BATCH_CALLS_PER_S`."""
        per_s = self.burst_limit / self.window_s
        return max(1, math.ceil(per_s / BATCH_CALLS_PER_S))

    @contextmanager
    def batch_slot(self, hold_s: float) -> Iterator[BatchSlot | None]:
        """Hold one of the `batches_at_once` slots every process shares for the block, or
        get None at once when all are taken (it never waits: the caller comes back later).
        The hold is renewed at each call this thread makes (`acquire`); a holder that dies
        without leaving the block frees its slot `hold_s` after its last call."""
        token = uuid.uuid4().hex
        if not self._slot("take", token, hold_s):
            yield None
            return
        self._held.slot = BatchSlot(self, token, hold_s)
        try:
            yield self._held.slot
        finally:
            self._held.slot = None
            self._slot("free", token, hold_s)

    def _slot(self, op: str, token: str, hold_s: float) -> bool:
        """Run `op` (take|renew|free) on `token`'s slot; whether it holds one after."""
        args = [op, now_arg(self._clock), token, hold_s, self.batches_at_once]
        return bool(self._slots(keys=[f"{self._prefix}:batches"], args=args))

    # CallHook

    def before_call(self, operation: str) -> None:
        self.acquire()

    def after_call(self, record: CallRecord) -> None:
        if record.error is not None and record.error.kind is ErrorKind.RATE_LIMITED:
            self.pause(record.error.retry_after_s or self.window_s)
        self._align(record)

    def _align(self, record: CallRecord) -> None:
        """Make our window at least as full as HubSpot says its own is."""
        try:
            remaining = int(record.headers["x-hubspot-ratelimit-remaining"])
            maximum = int(record.headers["x-hubspot-ratelimit-max"])
        except (KeyError, ValueError):
            return  # search answers and some errors carry no rate-limit headers
        self._run("align", maximum - remaining, self._counted_s, uuid.uuid4().hex)


class BatchSlot:
    """One batch slot, held by a token until its `with` block ends or `hold_s` passes."""

    def __init__(self, limiter: RateLimiter, token: str, hold_s: float) -> None:
        self._limiter = limiter
        self._token = token
        self.hold_s = hold_s

    def renew(self) -> bool:
        """Hold the slot `hold_s` more from now (Redis time), for a batch that takes
        longer; False when the hold had lapsed and the slot may have gone to another."""
        return self._limiter._slot("renew", self._token, self.hold_s)
