"""Figures over the audit log and the submissions: what the dashboard and alerts read."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from storage.tables import HubSpotCall, Submission

#: Outcomes that are HubSpot answering as it should: a 409 "already exists" is how an
#: upsert learns the contact's id.
SUCCESS_OUTCOMES = ("ok", "conflict")


@dataclass(frozen=True)
class CallStats:
    calls: int
    errors: int
    average_ms: float | None
    p95_ms: float | None

    @property
    def success_rate(self) -> float | None:
        return (self.calls - self.errors) / self.calls if self.calls else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None


async def call_stats(window_s: float = 300.0) -> CallStats:
    """Calls of the last `window_s` seconds: counts, mean and 95th-percentile latency."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window_s)
    rows = await HubSpotCall.select(HubSpotCall.outcome, HubSpotCall.duration_ms).where(
        HubSpotCall.at >= since
    )
    durations = sorted(row["duration_ms"] for row in rows)
    errors = sum(1 for row in rows if row["outcome"] not in SUCCESS_OUTCOMES)
    if not durations:
        return CallStats(0, 0, None, None)
    p95 = durations[max(0, math.ceil(0.95 * len(durations)) - 1)]
    return CallStats(len(durations), errors, sum(durations) / len(durations), p95)


async def submissions_waiting() -> int:
    """Submissions not yet in HubSpot and not given up on: the sync queue's depth."""
    return await Submission.count().where(Submission.status.is_in(["pending", "syncing"]))
