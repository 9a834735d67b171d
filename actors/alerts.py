"""Admin alerts: the spec's monitoring thresholds, checked periodically.

A crossed threshold is recorded (`alerts` table), logged and posted to ALERT_WEBHOOK_URL;
it is resolved when the figure is back in range. One open alert per metric at a time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from actors.broker import redis_client
from actors.services import circuit_breaker, rate_limiter
from crm.breaker import BreakerState
from settings import get_settings
from storage.metrics import CallStats, call_stats, submissions_waiting
from storage.runner import database
from storage.tables import Alert

log = logging.getLogger(__name__)

#: Seconds a condition must hold before it alerts, where the spec says "for 5 minutes".
SUSTAIN_S = 300.0
#: Seconds of HubSpot calls the rates and latency are taken over.
WINDOW_S = 300.0
#: Fewer calls than this in the window say nothing about HubSpot's health.
MIN_CALLS = 20
#: The spec's thresholds (Monitoring Metrics table).
SUCCESS_RATE_MIN = 0.95
RESPONSE_TIME_MAX_MS = 2000.0
ERROR_RATE_MAX = 0.05
QUEUE_DEPTH_MAX = 50
DAILY_USAGE_MAX = 0.8


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    threshold: float
    crossed: bool
    message: str
    rule: str  # when it alerts, in words: "below 95% over 5 minutes"


@dataclass(frozen=True)
class Measurements:
    """The figures the thresholds judge, measured at `now` (epoch seconds)."""

    now: float
    calls: CallStats
    breaker: BreakerState
    waiting: int
    used_today: int
    daily_limit: int

    @property
    def breaker_open_s(self) -> float:
        """Seconds the breaker has been open; 0 when it is not."""
        since = self.breaker.since
        return self.now - since if self.breaker.state == "open" and since is not None else 0.0

    @property
    def usage(self) -> float:
        """Share of today's HubSpot quota used."""
        return self.used_today / self.daily_limit


async def measure(now: float | None = None) -> Measurements:
    """Read every figure once: the alert check judges them, the dashboard also shows them."""
    now = time.time() if now is None else now
    calls = await call_stats(WINDOW_S)
    waiting = await submissions_waiting()
    breaker, used_today, daily_limit = await asyncio.to_thread(_shared_figures)
    return Measurements(now, calls, breaker, waiting, used_today, daily_limit)


def _shared_figures() -> tuple[BreakerState, int, int]:
    """The breaker and the day's quota: blocking Redis reads, kept off the event loop."""
    limiter = rate_limiter()
    return circuit_breaker().state(), limiter.used_today(), limiter.daily_limit


async def readings(now: float | None = None) -> list[Reading]:
    """Every metric of the spec's table with its threshold, measured now."""
    return await asyncio.to_thread(judge, await measure(now))


def judge(measured: Measurements) -> list[Reading]:
    """Each metric against its threshold. Blocking: when the queue went above its
    threshold is kept in Redis."""
    stats = measured.calls
    enough = stats.calls >= MIN_CALLS
    success = stats.success_rate if stats.success_rate is not None else 1.0
    errors = stats.error_rate or 0.0
    average_ms = stats.average_ms or 0.0
    open_s = measured.breaker_open_s
    waiting = measured.waiting
    usage = measured.usage
    return [
        Reading(
            "success_rate",
            success,
            SUCCESS_RATE_MIN,
            enough and success < SUCCESS_RATE_MIN,
            f"HubSpot API success rate is {success:.0%} over 5 minutes "
            f"(alert below {SUCCESS_RATE_MIN:.0%}).",
            f"below {SUCCESS_RATE_MIN:.0%} over 5 minutes",
        ),
        Reading(
            "response_time",
            average_ms,
            RESPONSE_TIME_MAX_MS,
            enough and average_ms > RESPONSE_TIME_MAX_MS,
            f"HubSpot answers take {average_ms:.0f} ms on average "
            f"(alert above {RESPONSE_TIME_MAX_MS:.0f} ms).",
            f"average above {RESPONSE_TIME_MAX_MS:.0f} ms over 5 minutes",
        ),
        Reading(
            "error_rate",
            errors,
            ERROR_RATE_MAX,
            enough and errors > ERROR_RATE_MAX,
            f"{errors:.0%} of HubSpot calls failed over 5 minutes "
            f"(alert above {ERROR_RATE_MAX:.0%}).",
            f"above {ERROR_RATE_MAX:.0%} over 5 minutes",
        ),
        Reading(
            "circuit_breaker",
            open_s,
            SUSTAIN_S,
            open_s > SUSTAIN_S,
            f"The HubSpot circuit breaker has been open for {open_s / 60:.0f} minutes.",
            f"open for more than {SUSTAIN_S / 60:.0f} minutes",
        ),
        Reading(
            "queue_depth",
            waiting,
            QUEUE_DEPTH_MAX,
            _sustained("queue_depth", waiting > QUEUE_DEPTH_MAX, measured.now),
            f"{waiting} submissions are waiting to sync "
            f"(alert above {QUEUE_DEPTH_MAX} for 5 minutes).",
            f"above {QUEUE_DEPTH_MAX} for {SUSTAIN_S / 60:.0f} minutes",
        ),
        Reading(
            "daily_usage",
            usage,
            DAILY_USAGE_MAX,
            usage > DAILY_USAGE_MAX,
            f"{usage:.0%} of today's HubSpot API quota is used "
            f"(alert above {DAILY_USAGE_MAX:.0%}).",
            f"above {DAILY_USAGE_MAX:.0%} of the daily quota",
        ),
    ]


def _sustained(metric: str, above: bool, now: float) -> bool:
    """True once `above` has held for SUSTAIN_S; the start time is kept in Redis."""
    key = f"leadsync:alerts:above-since:{metric}"
    if not above:
        redis_client().delete(key)
        return False
    redis_client().set(key, now, nx=True)
    return now - float(redis_client().get(key) or now) >= SUSTAIN_S


async def check_alerts(post: Callable[[str, dict], None] | None = None) -> list[Alert]:
    """Open alerts for crossed thresholds, resolve the recovered; returns the new ones."""
    post = post or _post_webhook
    opened: list[Alert] = []
    for reading in await readings():
        active = (
            await Alert.objects()
            .where((Alert.metric == reading.metric) & Alert.resolved_at.is_null())
            .first()
        )
        if reading.crossed and active is None:
            alert = Alert(
                metric=reading.metric,
                value=reading.value,
                threshold=reading.threshold,
                message=reading.message,
            )
            await alert.save()
            opened.append(alert)
            log.warning("ALERT %s: %s", reading.metric, reading.message)
            _notify(post, alert)
        elif not reading.crossed and active is not None:
            active.resolved_at = dt.datetime.now(dt.UTC)
            await active.save([Alert.resolved_at])
            log.info("alert %s resolved", reading.metric)
    return opened


def _notify(post: Callable[[str, dict], None], alert: Alert) -> None:
    url = get_settings().alert_webhook_url
    if not url:
        return
    payload = {
        "metric": alert.metric,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "at": alert.at.isoformat(),
    }
    try:
        post(url, payload)
    except Exception as exc:  # the alert is recorded and logged; the webhook is best effort
        log.error("could not post alert %s to the webhook: %s", alert.metric, exc)


def _post_webhook(url: str, payload: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def run_alert_checks() -> int:
    return len(database.run(check_alerts()))
