"""Admin alerts: the spec's monitoring thresholds, checked periodically.

A crossed threshold is recorded (`alerts` table), logged and posted to ALERT_WEBHOOK_URL;
it is resolved when the figure is back in range. One open alert per metric at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from actors.broker import redis_client
from actors.services import circuit_breaker, rate_limiter
from settings import get_settings
from storage.metrics import call_stats, submissions_waiting
from storage.runner import database
from storage.tables import Alert

log = logging.getLogger(__name__)

#: Seconds a condition must hold before it alerts, where the spec says "for 5 minutes".
SUSTAIN_S = 300.0
#: Fewer calls than this in the window say nothing about HubSpot's health.
MIN_CALLS = 20


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    threshold: float
    crossed: bool
    message: str


async def readings(now: float | None = None) -> list[Reading]:
    """Every metric of the spec's table with its threshold, measured now."""
    now = time.time() if now is None else now
    stats = await call_stats(300)
    enough = stats.calls >= MIN_CALLS
    breaker = circuit_breaker().state()
    open_s = now - breaker.since if breaker.state == "open" else 0.0
    waiting = await submissions_waiting()
    limiter = rate_limiter()
    usage = limiter.used_today() / limiter.daily_limit
    success = stats.success_rate if stats.success_rate is not None else 1.0
    errors = stats.error_rate or 0.0
    average_ms = stats.average_ms or 0.0
    return [
        Reading(
            "success_rate",
            success,
            0.95,
            enough and success < 0.95,
            f"HubSpot API success rate is {success:.0%} over 5 minutes (alert below 95%).",
        ),
        Reading(
            "response_time",
            average_ms,
            2000,
            enough and average_ms > 2000,
            f"HubSpot answers take {average_ms:.0f} ms on average (alert above 2000 ms).",
        ),
        Reading(
            "error_rate",
            errors,
            0.05,
            enough and errors > 0.05,
            f"{errors:.0%} of HubSpot calls failed over 5 minutes (alert above 5%).",
        ),
        Reading(
            "circuit_breaker",
            open_s,
            SUSTAIN_S,
            open_s > SUSTAIN_S,
            f"The HubSpot circuit breaker has been open for {open_s / 60:.0f} minutes.",
        ),
        Reading(
            "queue_depth",
            waiting,
            50,
            _sustained("queue_depth", waiting > 50, now),
            f"{waiting} submissions are waiting to sync (alert above 50 for 5 minutes).",
        ),
        Reading(
            "daily_usage",
            usage,
            0.8,
            usage > 0.8,
            f"{usage:.0%} of today's HubSpot API quota is used (alert above 80%).",
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
