"""Figures over the audit log and the submissions: what the dashboard, alerts and /metrics read.

Every figure is aggregated in SQL over a window of the indexed `hubspot_calls.at` column,
so its cost follows the calls in the window, never the size of the table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from piccolo.columns import Column
from piccolo.query.functions.aggregate import Count

from storage.tables import HubSpotCall, Submission

#: Outcomes that are HubSpot answering as it should: a 409 "already exists" is how an
#: upsert learns the contact's id.
SUCCESS_OUTCOMES = ("ok", "conflict")

#: The UTC minute (epoch seconds // 60) of a call's `at`, per database dialect.
_MINUTE_OF_AT = {
    "postgres": "floor(extract(epoch FROM at) / 60)::bigint",
    "sqlite": "CAST(strftime('%s', at) AS INTEGER) / 60",
}


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


@dataclass(frozen=True)
class OutcomeCalls:
    """Calls of one outcome: how many, their summed duration, and how many took at most
    each bound (`at_most[i]` counts calls with `duration_ms <= bounds_ms[i]`)."""

    calls: int
    duration_ms: float
    at_most: tuple[int, ...]


@dataclass(frozen=True)
class LeadCalls:
    """HubSpot calls made and submissions synced over the same stretch of time."""

    calls: int
    synced: int

    @property
    def per_lead(self) -> float | None:
        """Quota a synced lead costs; None when none synced (the calls went elsewhere)."""
        return self.calls / self.synced if self.synced else None


@dataclass(frozen=True)
class MinuteCalls:
    minute: dt.datetime  # the minute's start, UTC
    calls: int
    errors: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _error_case() -> str:
    """SQL that is 1 for a call that failed, 0 for one that succeeded."""
    listed = ", ".join(f"'{outcome}'" for outcome in SUCCESS_OUTCOMES)
    return f"CASE WHEN outcome IN ({listed}) THEN 0 ELSE 1 END"


async def call_stats(window_s: float = 300.0) -> CallStats:
    """Calls of the last `window_s` seconds: counts, mean and 95th-percentile latency."""
    since = _now() - dt.timedelta(seconds=window_s)
    rows = await HubSpotCall.raw(
        f"SELECT count(*) AS calls, sum({_error_case()}) AS errors,"
        " avg(duration_ms) AS average_ms FROM hubspot_calls WHERE at >= {}",
        since,
    )
    calls = int(rows[0]["calls"])
    if not calls:
        return CallStats(0, 0, None, None)
    return CallStats(
        calls,
        int(rows[0]["errors"]),
        float(rows[0]["average_ms"]),
        await _nearest_rank_ms(since, 0.95, calls),
    )


async def _nearest_rank_ms(since: dt.datetime, share: float, calls: int) -> float | None:
    """The duration `share` of the calls since `since` do not exceed (nearest rank).

    OFFSET on an ordered window works on both dialects; SQLite has no percentile function.
    """
    rank = max(0, math.ceil(share * calls) - 1)
    rows = (
        await HubSpotCall.select(HubSpotCall.duration_ms)
        .where(HubSpotCall.at >= since)
        .order_by(HubSpotCall.duration_ms)
        .limit(1)
        .offset(rank)
    )
    return float(rows[0]["duration_ms"]) if rows else None


async def calls_by_outcome(
    since: dt.datetime, bounds_ms: Sequence[float] = ()
) -> dict[str, OutcomeCalls]:
    """Calls made since `since`, per outcome, with their latency distribution over
    `bounds_ms` (ascending): one pass over the window, for counters and histograms."""
    buckets = "".join(
        f", sum(CASE WHEN duration_ms <= {{}} THEN 1 ELSE 0 END) AS le_{index}"
        for index in range(len(bounds_ms))
    )
    rows = await HubSpotCall.raw(
        "SELECT outcome, count(*) AS calls,"
        " sum(CAST(duration_ms AS double precision)) AS duration_ms"
        f"{buckets} FROM hubspot_calls WHERE at >= {{}} GROUP BY outcome",
        *bounds_ms,
        since,
    )
    return {
        row["outcome"]: OutcomeCalls(
            int(row["calls"]),
            float(row["duration_ms"]),
            tuple(int(row[f"le_{index}"]) for index in range(len(bounds_ms))),
        )
        for row in rows
    }


async def calls_per_minute(minutes: int = 60, now: dt.datetime | None = None) -> list[MinuteCalls]:
    """Calls and errors in each of the last `minutes` UTC minutes (the current one last),
    minutes without calls included as zeros."""
    now = now or _now()
    current = int(now.timestamp()) // 60
    first = current - minutes + 1
    minute_of_at = _MINUTE_OF_AT[HubSpotCall._meta.db.engine_type]
    rows = await HubSpotCall.raw(
        f"SELECT {minute_of_at} AS minute, count(*) AS calls, sum({_error_case()}) AS errors"
        " FROM hubspot_calls WHERE at >= {} AND at < {} GROUP BY 1",
        dt.datetime.fromtimestamp(first * 60, dt.UTC),
        dt.datetime.fromtimestamp((current + 1) * 60, dt.UTC),
    )
    found = {int(row["minute"]): row for row in rows}
    return [
        MinuteCalls(
            dt.datetime.fromtimestamp(minute * 60, dt.UTC),
            int(found[minute]["calls"]) if minute in found else 0,
            int(found[minute]["errors"]) if minute in found else 0,
        )
        for minute in range(first, current + 1)
    ]


async def calls_per_synced_lead(since: dt.datetime) -> LeadCalls:
    """Calls made since `since` (every operation, retries included) against submissions
    that became `synced` since then: what one lead costs of HubSpot's quota."""
    calls, synced = await asyncio.gather(
        HubSpotCall.count().where(HubSpotCall.at >= since), synced_since(since)
    )
    return LeadCalls(calls, synced)


async def synced_since(since: dt.datetime) -> int:
    """Submissions that became `synced` since `since`, whatever became of them after."""
    return await Submission.count().where(Submission.synced_at >= since)


async def count_by(column: Column) -> dict[str, int]:
    """Rows of `column`'s table per value of `column` (GROUP BY in the database)."""
    table = column._meta.table
    rows = await table.select(column, Count(alias="rows_counted")).group_by(column)
    return {row[column._meta.name]: int(row["rows_counted"]) for row in rows}


async def submissions_waiting() -> int:
    """Submissions not yet in HubSpot and not given up on: the sync queue's depth."""
    return await Submission.count().where(Submission.status.is_in(["pending", "syncing"]))
