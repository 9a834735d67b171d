"""HubSpot's request limits for a private app: a rolling burst window, a daily quota,
and a separate per-second limit for CRM search.

Only admitted requests are counted, so a request answered 429 never did anything
and never uses up quota. Time comes from the injected clock. Not locked itself:
``SandboxState`` calls it under its one lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

SEARCH_PER_SECOND = 5
SECONDS_PER_DAY = 86_400

_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "DAILY": "You have reached your daily limit.",
    "SECONDLY": "You have reached your secondly limit.",
}
_GROUPS = {
    "TEN_SECONDLY_ROLLING": "publicapi:private-app-ten-secondly:{portal}",
    "DAILY": "publicapi:private-app-daily:{portal}",
    "SECONDLY": "publicapi:search-secondly:{portal}",
}


@dataclass(frozen=True)
class Verdict:
    """Whether a request may run; ``policy`` names the limit it hit, if any."""

    policy: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.policy is None


def limit_body(policy: str, correlation_id: str, portal_id: int) -> dict[str, Any]:
    """The 429 body HubSpot sends (no ``category``; ``policyName`` tells which limit)."""
    return {
        "status": "error",
        "message": _MESSAGES[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id,
        "policyName": policy,
        "groupName": _GROUPS[policy].format(portal=portal_id),
    }


class RateLimiter:
    def __init__(self, burst_limit: int, burst_window_s: float, daily_limit: int) -> None:
        self.burst_limit = burst_limit
        self.burst_window_s = burst_window_s
        self.daily_limit = daily_limit
        self.reset()

    def reset(self) -> None:
        self._burst: deque[float] = deque()
        self._search: deque[float] = deque()
        self._day: int | None = None
        self._daily_used = 0

    def headers(self, *, remaining: int | None = None) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers; ``remaining`` overrides the burst count
        (a rate-limit storm claims the window is exhausted)."""
        if remaining is None:
            remaining = max(0, self.burst_limit - len(self._burst))
        return {
            "X-HubSpot-RateLimit-Max": str(self.burst_limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(round(self.burst_window_s * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self._daily_used)),
        }

    def _roll(self, now: float) -> None:
        day = int(now // SECONDS_PER_DAY)  # the daily quota resets at midnight UTC
        if day != self._day:
            self._day, self._daily_used = day, 0
        while self._burst and self._burst[0] <= now - self.burst_window_s:
            self._burst.popleft()
        while self._search and self._search[0] <= now - 1.0:
            self._search.popleft()

    def admit(self, now: float, *, search: bool = False) -> Verdict:
        """Count the request if it fits; search answers carry no rate-limit headers."""
        self._roll(now)
        if search:
            if len(self._search) >= SEARCH_PER_SECOND:
                return Verdict("SECONDLY")
            self._search.append(now)
            return Verdict(None)
        if self._daily_used >= self.daily_limit:
            return Verdict("DAILY", self.headers())
        if len(self._burst) >= self.burst_limit:
            return Verdict("TEN_SECONDLY_ROLLING", self.headers())
        self._burst.append(now)
        self._daily_used += 1
        return Verdict(None, self.headers())


def busiest_window(times: list[float], window_s: float) -> int:
    """The most timestamps in any rolling window ``(t - window_s, t]``: the same window
    the limiter keeps, so a client the limiter never refused scores at most the limit."""
    if not window_s > 0:  # also refuses NaN
        raise ValueError("window_s must be positive")
    ordered = sorted(times)
    best = start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window_s:
            start += 1
        best = max(best, end - start + 1)
    return best
