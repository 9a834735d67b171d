"""A circuit breaker kept in Redis, so every web and worker process sees one state.

closed -> open after `threshold` failures within `window_s`; open -> half-open after
`open_timeout_s`; half-open lets `max_probes` calls through and closes after
`close_after` consecutive successes, or opens again on the first failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from crm.client import CallRecord
from crm.errors import ErrorKind

_SCRIPT = (Path(__file__).resolve().parent / "lua" / "breaker.lua").read_text(encoding="utf-8")

#: Failures that say HubSpot (or our access to it) is unwell. A 429 says we were too fast,
#: a 4xx that our data was wrong: neither opens the breaker.
TRIPPING_KINDS = {ErrorKind.TRANSIENT, ErrorKind.AUTHENTICATION}


class BreakerOpen(Exception):
    """HubSpot calls are paused; try again after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"HubSpot circuit breaker is open; retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class BreakerState:
    state: str  # closed | open | half_open
    since: float  # epoch seconds of the last transition
    retry_after_s: float = 0.0


class CircuitBreaker:
    """Also a `CallHook`: refuses calls while open and learns from every answer."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        threshold: int = 5,
        window_s: float = 60.0,
        open_timeout_s: float = 120.0,
        close_after: int = 3,
        max_probes: int = 3,
        prefix: str = "leadsync:breaker",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._script = client.register_script(_SCRIPT)
        self._keys = [f"{prefix}:state", f"{prefix}:failures"]
        self._limits = [threshold, window_s, open_timeout_s, close_after, max_probes]
        self.clock = clock

    def _run(self, op: str) -> BreakerState:
        state, since, wait = self._script(keys=self._keys, args=[op, self.clock(), *self._limits])
        return BreakerState(_text(state), float(since), max(0.0, float(wait)))

    def allow_request(self) -> BreakerState:
        """The state after asking to call; `retry_after_s > 0` means the call is refused."""
        return self._run("allow")

    def record_success(self) -> BreakerState:
        return self._run("success")

    def record_failure(self) -> BreakerState:
        return self._run("failure")

    def reset(self) -> BreakerState:
        return self._run("reset")

    def remaining_open_s(self) -> float:
        """Seconds until an open breaker lets probes through; 0 when calls may go."""
        current = self.state()
        if current.state != "open":
            return 0.0
        return max(0.0, current.since + self._limits[2] - self.clock())

    def state(self) -> BreakerState:
        raw = self._redis.hgetall(self._keys[0])
        if not raw:
            return BreakerState("closed", self.clock())
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return BreakerState(fields.get("state", "closed"), float(fields.get("since", 0)))

    # CallHook

    def before_call(self, operation: str) -> None:
        decision = self.allow_request()
        if decision.retry_after_s > 0:
            raise BreakerOpen(decision.retry_after_s)

    def after_call(self, record: CallRecord) -> None:
        if record.error is not None and record.error.kind in TRIPPING_KINDS:
            self.record_failure()
        else:
            self.record_success()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
