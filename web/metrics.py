"""`/metrics` in Prometheus's format: HubSpot calls, latency, breaker, queue, quota and
synced leads (so calls per synced lead is a PromQL division).

Every figure is read per scrape from the database's audit log and from Redis, never kept
in this process: the web process makes no HubSpot calls (the workers do), and any number
of both run at once. Counters count since 00:00 UTC, when HubSpot's daily quota restarts,
so a scrape reads one day of the indexed audit log, not all of it; Prometheus takes the
midnight drop for a counter reset, as it does a restart. With METRICS_TOKEN set a scrape
must send it as a bearer token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
from collections.abc import Iterable, Iterator

import redis
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from actors.services import circuit_breaker, rate_limiter
from crm.breaker import BreakerState
from settings import get_settings
from storage.metrics import OutcomeCalls, calls_by_outcome, submissions_waiting, synced_since

log = logging.getLogger(__name__)

#: Upper bounds of the latency histogram's buckets, in seconds; 2 s is the spec's alert.
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
#: Seconds of calls the recent per-outcome gauge covers: the spec's alert window.
RECENT_WINDOW_S = 300
#: The breaker's states as numbers, so an alert rule can compare them.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


async def metrics(request: Request) -> Response:
    if not _authorised(request):
        return PlainTextResponse(
            "Send the metrics token as 'Authorization: Bearer <token>'.",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    registry = CollectorRegistry(auto_describe=False)
    redis_families = await asyncio.to_thread(_redis_families)
    registry.register(_Snapshot(await _audit_families() + redis_families))
    return Response(encode(registry), headers={"Content-Type": content_type})


def _authorised(request: Request) -> bool:
    token = get_settings().metrics_token
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


class _Snapshot:
    """A collector of figures already read: reading is async, collecting is not."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def _audit_families() -> list[Metric]:
    now = dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today, recent, waiting, synced = await asyncio.gather(
        calls_by_outcome(midnight, [bound * 1000 for bound in LATENCY_BUCKETS_S]),
        calls_by_outcome(now - dt.timedelta(seconds=RECENT_WINDOW_S)),
        submissions_waiting(),
        synced_since(midnight),
    )
    calls = CounterMetricFamily(
        "leadsync_hubspot_calls",
        "HubSpot API calls since 00:00 UTC by outcome (ok, conflict, or the error kind).",
        labels=["outcome"],
    )
    recent_calls = GaugeMetricFamily(
        "leadsync_hubspot_recent_calls",
        f"HubSpot API calls in the last {RECENT_WINDOW_S} seconds by outcome.",
        labels=["outcome"],
    )
    for outcome, found in sorted(today.items()):
        calls.add_metric([outcome], found.calls)
    for outcome, found in sorted(recent.items()):
        recent_calls.add_metric([outcome], found.calls)
    queue = GaugeMetricFamily(
        "leadsync_sync_queue_depth", "Submissions waiting to sync (pending or syncing).", waiting
    )
    leads = CounterMetricFamily(
        "leadsync_synced_submissions",
        "Submissions that became synced since 00:00 UTC; HubSpot calls over these are the "
        "calls a synced lead costs.",
        synced,
    )
    return [calls, _latency(list(today.values())), recent_calls, queue, leads]


def _latency(outcomes: list[OutcomeCalls]) -> HistogramMetricFamily:
    """All of today's calls, whatever their outcome, in cumulative latency buckets."""
    buckets = [
        (str(bound), sum(found.at_most[index] for found in outcomes))
        for index, bound in enumerate(LATENCY_BUCKETS_S)
    ]
    buckets.append(("+Inf", sum(found.calls for found in outcomes)))
    return HistogramMetricFamily(
        "leadsync_hubspot_call_duration_seconds",
        "How long HubSpot API calls took since 00:00 UTC, waits for an answer included.",
        buckets=buckets,
        sum_value=sum(found.duration_ms for found in outcomes) / 1000,
    )


def _redis_families() -> list[Metric]:
    """The breaker and the day's quota, shared by every process through Redis (blocking)."""
    up = GaugeMetricFamily("leadsync_redis_up", "1 when Redis (breaker, quota) answers.")
    try:
        breaker = circuit_breaker().state()
        limiter = rate_limiter()
        used = limiter.used_today()
    except redis.RedisError as exc:
        log.error("metrics: Redis does not answer: %s", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    usage = GaugeMetricFamily(
        "leadsync_hubspot_daily_calls", "HubSpot API calls counted against today's quota.", used
    )
    limit = GaugeMetricFamily(
        "leadsync_hubspot_daily_limit", "HubSpot API calls allowed per day.", limiter.daily_limit
    )
    return [up, *_breaker_families(breaker), usage, limit]


def _breaker_families(breaker: BreakerState) -> list[Metric]:
    """Its state, since when, and the calls of its window it judges by."""
    state = GaugeMetricFamily(
        "leadsync_hubspot_breaker_state",
        "HubSpot circuit breaker: 0 closed, 1 half-open, 2 open.",
        labels=["state"],
    )
    state.add_metric([breaker.state], BREAKER_STATES[breaker.state])
    calls = GaugeMetricFamily(
        "leadsync_hubspot_breaker_window_calls",
        "HubSpot calls answered within the circuit breaker's window (HUBSPOT_CB_WINDOW).",
        breaker.calls,
    )
    failures = GaugeMetricFamily(
        "leadsync_hubspot_breaker_window_failures",
        "Of them, the failures the circuit breaker counts (5xx, timeouts, 401/403).",
        breaker.failures,
    )
    if breaker.since is None:  # it never changed state: there is no time to tell
        return [state, calls, failures]
    since = GaugeMetricFamily(
        "leadsync_hubspot_breaker_since_seconds",
        "Unix time the circuit breaker last changed state.",
        breaker.since,
    )
    return [state, since, calls, failures]


routes = [Route("/metrics", metrics, methods=["GET"], name="metrics")]
