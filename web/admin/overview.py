"""The overview: the spec's six monitoring metrics against their alert thresholds (with the
breaker's failure share and the calls a synced lead costs), rows by status, and HubSpot
calls and errors per minute over the last hour.

The page includes the live part; htmx re-fetches only that part (`/admin/live`) every few
seconds, so the figures stay current without reloads and the page works without script.
The thresholds and whether they are crossed come from `actors.alerts`, which the alerting
job judges by too: what the page highlights is what alerts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import redis
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import alerts
from crm.breaker import BreakerState
from settings import get_settings
from storage.metrics import (
    LeadCalls,
    MinuteCalls,
    calls_per_minute,
    calls_per_synced_lead,
    count_by,
)
from storage.tables import SUBMISSION_STATUSES, Alert, Submission
from storage.uploads import UPLOAD_STATUSES, Upload
from web.admin.charts import bar_chart
from web.admin.pages import render

log = logging.getLogger(__name__)

#: Minutes the call charts span, one bar each.
CHART_MINUTES = 60
#: Open alerts listed, newest first.
MAX_OPEN_ALERTS = 10


@dataclass(frozen=True)
class Card:
    """One metric as the page shows it: `value` large, `detail` under it, the alert rule;
    `notes` are figures beside it that no alert judges."""

    metric: str
    label: str
    value: str
    detail: str
    rule: str
    crossed: bool
    notes: tuple[str, ...] = ()


async def page(request: Request) -> Response:
    return render(request, "admin/overview.html", await _figures())


async def live(request: Request) -> Response:
    """The live part alone, for htmx to swap in."""
    return render(request, "admin/_overview_live.html", await _figures())


async def _figures() -> dict[str, Any]:
    minutes, submissions, uploads, open_alerts, cards = await asyncio.gather(
        calls_per_minute(CHART_MINUTES),
        count_by(Submission.status),
        count_by(Upload.status),
        _open_alerts(),
        _cards(),
    )
    return {
        "cards": cards,
        "submission_counts": _in_order(submissions, SUBMISSION_STATUSES),
        "upload_counts": _in_order(uploads, UPLOAD_STATUSES),
        "calls_chart": _chart("calls-chart", "HubSpot calls per minute", minutes, "calls"),
        "errors_chart": _chart("errors-chart", "HubSpot errors per minute", minutes, "errors"),
        "open_alerts": open_alerts,
        "updated_at": dt.datetime.now(dt.UTC),
    }


async def _cards() -> list[Card] | None:
    """The six metrics; None when Redis (breaker, quota) does not answer."""
    try:
        measured, lead_calls = await asyncio.gather(alerts.measure(), _lead_calls())
        judged = await asyncio.to_thread(alerts.judge, measured)
    except redis.RedisError as exc:
        log.error("overview: Redis does not answer: %s", exc)
        return None
    return _describe(measured, {reading.metric: reading for reading in judged}, lead_calls)


async def _lead_calls() -> tuple[LeadCalls, LeadCalls]:
    """Calls and synced leads over the last hour, and since 00:00 UTC."""
    now = dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour, today = await asyncio.gather(
        calls_per_synced_lead(now - dt.timedelta(hours=1)), calls_per_synced_lead(midnight)
    )
    return hour, today


def _describe(
    measured: alerts.Measurements,
    readings: dict[str, alerts.Reading],
    lead_calls: tuple[LeadCalls, LeadCalls],
) -> list[Card]:
    stats = measured.calls
    judged = f"{stats.calls} calls in the last 5 minutes"
    if stats.calls < alerts.MIN_CALLS:
        judged += f": too few to judge (alerts need {alerts.MIN_CALLS})"
    p95 = f"p95 {stats.p95_ms:,.0f} ms" if stats.p95_ms is not None else "no calls"

    def card(metric: str, label: str, value: str, detail: str, *notes: str) -> Card:
        reading = readings[metric]
        return Card(metric, label, value, detail, reading.rule, reading.crossed, notes)

    return [
        card("success_rate", "API success rate", _percent(stats.success_rate), judged),
        card("response_time", "Average response time", _ms(stats.average_ms), p95),
        card(
            "error_rate",
            "Error rate",
            _percent(stats.error_rate),
            f"{stats.errors} of {stats.calls} calls failed",
        ),
        card(
            "circuit_breaker",
            "Circuit breaker",
            *_breaker(measured),
            _failure_share(measured.breaker),
        ),
        card("queue_depth", "Queue depth", f"{measured.waiting:,}", "submissions waiting to sync"),
        card(
            "daily_usage",
            "Daily API usage",
            f"{measured.used_today:,}",
            f"of {measured.daily_limit:,} calls ({_percent(measured.usage)}) today, UTC",
            _per_lead(*lead_calls),
        ),
    ]


def _breaker(measured: alerts.Measurements) -> tuple[str, str]:
    """The breaker's state with how long it has held, and what that means for calls."""
    breaker = measured.breaker
    if breaker.since is None:  # it never moved, or Redis restarted empty
        return "closed", "HubSpot calls go through"
    since = dt.datetime.fromtimestamp(breaker.since, dt.UTC)
    if breaker.state == "open":
        until = since + dt.timedelta(seconds=get_settings().hubspot_cb_timeout)
        return (
            f"open for {_duration(measured.breaker_open_s)}",
            f"HubSpot calls paused; a few are tried again from {_clock(until)}",
        )
    if breaker.state == "half_open":
        return f"half-open since {_clock(since)}", "a few calls are testing HubSpot"
    return f"closed since {_clock(since)}", "HubSpot calls go through"


def _failure_share(breaker: BreakerState) -> str:
    """The calls the breaker judges by: "3 of 412 calls failed in the last 60 s (0.7%)"."""
    window = f"in the last {get_settings().hubspot_cb_window:g} s"
    if not breaker.calls:
        return f"No HubSpot call answered {window}"
    failed = f"{breaker.failures:,} of {breaker.calls:,} calls failed {window}"
    return f"{failed} ({_percent(breaker.failure_share)})"


def _per_lead(hour: LeadCalls, today: LeadCalls) -> str:
    """HubSpot calls per synced lead, last hour and today; "–" while none synced."""
    return (
        f"Calls per synced lead: {_ratio(hour.per_lead)} in the last hour, "
        f"{_ratio(today.per_lead)} today, UTC"
    )


def _chart(chart_id: str, title: str, minutes: list[MinuteCalls], unit: str) -> Markup:
    values = [minute.calls if unit == "calls" else minute.errors for minute in minutes]
    starts = [minute.minute for minute in minutes]
    return bar_chart(chart_id, f"{title}, last {CHART_MINUTES} minutes", starts, values, unit)


async def _open_alerts() -> list[dict[str, Any]]:
    return (
        await Alert.select(Alert.at, Alert.metric, Alert.message)
        .where(Alert.resolved_at.is_null())
        .order_by(Alert.at, ascending=False)
        .limit(MAX_OPEN_ALERTS)
    )


def _in_order(counts: dict[str, int], statuses: tuple[str, ...]) -> list[tuple[str, int]]:
    """Every known status in its lifecycle order (zeros included), then any other found."""
    known = [(status, counts.get(status, 0)) for status in statuses]
    return known + sorted((s, n) for s, n in counts.items() if s not in statuses)


def _percent(share: float | None) -> str:
    """One decimal at most; a share that rounding would make 0% or 100% says it is not."""
    if share is None:
        return "–"
    if 0 < share < 0.0005:
        return "<0.1%"
    if 0.9995 <= share < 1:
        return ">99.9%"
    return f"{share:.1%}".replace(".0%", "%")


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def _clock(moment: dt.datetime) -> str:
    """A time of day in UTC, with the date when it is not today."""
    today = dt.datetime.now(dt.UTC).date()
    pattern = "%H:%M UTC" if moment.date() == today else "%d %b %H:%M UTC"
    return moment.strftime(pattern)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


routes = [
    Route("/", page, methods=["GET"], name="admin_overview"),
    Route("/live", live, methods=["GET"], name="admin_overview_live"),
]
