"""A circuit breaker kept in Redis, so every web and worker process sees one state.

closed -> open when, within `window_s`, failures reach `threshold` and make up at least
`failure_rate` of the calls answered (the window's latest `RECENT_CALLS` at most): five
failures in a quiet minute open it, a few per cent of failures under load do not (retries
absorb those), and an outage does within a few calls however busy the minute before it
was. open -> half-open after `open_timeout_s`; half-open lets `max_probes` calls through
and closes after `close_after` consecutive successes, or opens again on the first failure.

Time is the Redis server's (`TIME`), never the caller's clock, so processes on hosts whose
clocks disagree still agree on when the breaker opened and for how long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

from crm.client import CallRecord
from crm.errors import ErrorKind
from crm.lua import now_arg, script

_SCRIPT = script("breaker")

#: Failures that say HubSpot (or our access to it) is unwell. A 429 says we were too fast,
#: a 4xx that our data was wrong: those count as calls answered, not as failures.
TRIPPING_KINDS = {ErrorKind.TRANSIENT, ErrorKind.AUTHENTICATION}
#: Latest calls of the window the failure share is judged on: random failures at 15 % reach
#: half of 40 calls about once in 10^8 tries; an outage does after about 20 failed calls.
RECENT_CALLS = 40


class BreakerOpen(Exception):
    """HubSpot calls are paused; try again after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"HubSpot circuit breaker is open; retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class BreakerState:
    """The breaker as Redis holds it, with the window's calls it judges by."""

    state: str  # closed | open | half_open
    since: float | None  # epoch seconds (Redis time) of the last transition; None: never
    retry_after_s: float = 0.0
    calls: int = 0  # calls answered within the window (while closed)
    failures: int = 0  # of them, failures that count (`TRIPPING_KINDS`)

    @property
    def failure_share(self) -> float | None:
        """Failures among the window's calls; None without calls in the window."""
        return self.failures / self.calls if self.calls else None


class CircuitBreaker:
    """Also a `CallHook`: refuses calls while open and learns from every answer."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        threshold: int = 5,
        failure_rate: float = 0.5,
        window_s: float = 60.0,
        open_timeout_s: float = 120.0,
        close_after: int = 3,
        max_probes: int = 3,
        prefix: str = "leadsync:breaker",
        clock: Callable[[], float] | None = None,
    ) -> None:
        """`clock` (epoch seconds) is for tests only; None takes Redis's time."""
        self._script = client.register_script(_SCRIPT)
        self._keys = [f"{prefix}:state", f"{prefix}:calls", f"{prefix}:failures"]
        self._limits = [
            threshold,
            failure_rate,
            window_s,
            open_timeout_s,
            close_after,
            max_probes,
            RECENT_CALLS,
        ]
        self._clock = clock

    def _run(self, op: str) -> BreakerState:
        state, since, wait, calls, failures = self._script(
            keys=self._keys, args=[op, now_arg(self._clock), *self._limits]
        )
        return BreakerState(
            _text(state),
            float(since) if since else None,
            max(0.0, float(wait)),
            int(calls),
            int(failures),
        )

    def allow_request(self) -> BreakerState:
        """The state after asking to call; `retry_after_s > 0` means the call is refused."""
        return self._run("allow")

    def record_success(self) -> BreakerState:
        """A call answered without a failure that counts (2xx, 429, other 4xx)."""
        return self._run("success")

    def record_failure(self) -> BreakerState:
        return self._run("failure")

    def reset(self) -> BreakerState:
        return self._run("reset")

    def state(self) -> BreakerState:
        """The state and the window's figures, changing nothing; `retry_after_s` is the
        time left while open."""
        return self._run("state")

    def remaining_open_s(self) -> float:
        """Seconds until an open breaker lets probes through; 0 when calls may go."""
        return self.state().retry_after_s

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
