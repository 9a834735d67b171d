"""HubSpot's request budget, shared in Redis by every worker: calls wait their turn.

A rolling burst window (100 calls per 10 s by default) and a daily quota (250,000), both
settings. HubSpot's own `X-HubSpot-RateLimit-*` headers and 429s pause everyone further.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError

_SCRIPT = (Path(__file__).resolve().parent / "lua" / "ratelimit.lua").read_text(encoding="utf-8")

#: Below this share of HubSpot's window left (its own headers), every caller slows down.
LOW_WATER_SHARE = 0.25


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
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._redis = client
        self._script = client.register_script(_SCRIPT)
        self._prefix = prefix
        self.burst_limit = burst_limit
        self.window_s = window_s
        self.daily_limit = daily_limit
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.sleep = sleep

    def acquire(self) -> None:
        """Wait for a slot; past `max_wait_s` (or a spent daily quota) raise RATE_LIMITED.

        The raise lets the actor put the job back with a delay instead of holding a thread.
        """
        waited = 0.0
        while True:
            now = self.clock()
            granted, wait = self._script(
                keys=self._keys(now),
                args=[
                    now,
                    self.burst_limit,
                    self.window_s,
                    self.daily_limit,
                    _seconds_to_midnight(now),
                    uuid.uuid4().hex,
                ],
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
        """Hold every process back for `seconds` (never shortens a longer pause)."""
        until = self.clock() + seconds
        key = f"{self._prefix}:pause"
        current = self._redis.get(key)
        if current is None or float(current) < until:
            self._redis.set(key, until, ex=max(1, int(seconds) + 1))

    def used_today(self) -> int:
        return int(self._redis.get(self._keys(self.clock())[1]) or 0)

    def _keys(self, now: float) -> list[str]:
        day = dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()
        return [
            f"{self._prefix}:window",
            f"{self._prefix}:daily:{day}",
            f"{self._prefix}:pause",
            f"{self._prefix}:known",
        ]

    def assume_idle(self) -> None:
        """Declare that no call was made in the last window (a Redis nobody else used).

        Without it, a limiter that finds no record waits one window before the first call.
        """
        self._redis.set(f"{self._prefix}:known", "1")

    # CallHook

    def before_call(self, operation: str) -> None:
        self.acquire()

    def after_call(self, record: CallRecord) -> None:
        if record.error is not None and record.error.kind is ErrorKind.RATE_LIMITED:
            self.pause(record.error.retry_after_s or self.window_s)
            return
        self._slow_down(record)

    def _slow_down(self, record: CallRecord) -> None:
        """Spread the calls left in HubSpot's window over the rest of it."""
        try:
            remaining = int(record.headers["x-hubspot-ratelimit-remaining"])
            maximum = int(record.headers["x-hubspot-ratelimit-max"])
            interval_s = int(record.headers["x-hubspot-ratelimit-interval-milliseconds"]) / 1000
        except (KeyError, ValueError):
            return  # search answers and some errors carry no rate-limit headers
        low_water = maximum * LOW_WATER_SHARE
        if remaining < low_water:
            # HubSpot's count is the truth (ours is lost if Redis restarts empty): the
            # closer to none left, the longer everyone waits, up to a whole window.
            self.pause(interval_s * (1 - remaining / low_water))


def _seconds_to_midnight(now: float) -> float:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return (midnight - moment).total_seconds()
