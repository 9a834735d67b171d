"""Crossed monitoring thresholds become alerts: recorded, posted to the webhook, resolved."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from actors import alerts
from actors.services import circuit_breaker, rate_limiter
from storage.tables import Alert, HubSpotCall, Submission
from tests.faults import open_breaker


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch):
    """A real HTTP endpoint on loopback that records what it is sent."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    from settings import get_settings

    monkeypatch.setattr(
        get_settings(), "alert_webhook_url", f"http://127.0.0.1:{server.server_port}/"
    )
    yield received
    server.shutdown()
    server.server_close()


def _calls(count: int, outcome: str, duration_ms: float = 50.0) -> None:
    status = 200 if outcome == "ok" else 503
    rows = [
        HubSpotCall(
            operation="create_contact", status=status, outcome=outcome, duration_ms=duration_ms
        )
        for _ in range(count)
    ]
    HubSpotCall.insert(*rows).run_sync()


def _check() -> list[Alert]:
    return asyncio.run(alerts.check_alerts())


def _open_alerts() -> set[str]:
    rows = Alert.select(Alert.metric).where(Alert.resolved_at.is_null()).run_sync()
    return {row["metric"] for row in rows}


def test_a_low_success_rate_is_recorded_and_posted_once(db, sandbox, webhook) -> None:
    _calls(80, "ok")
    _calls(20, "transient")

    opened = _check()
    again = _check()

    assert {a.metric for a in opened} == {"success_rate", "error_rate"}
    assert again == []
    assert {post["metric"] for post in webhook} == {"success_rate", "error_rate"}
    assert "80%" in next(p for p in webhook if p["metric"] == "success_rate")["message"]


def test_an_alert_is_resolved_when_the_figure_recovers(db, sandbox, webhook) -> None:
    _calls(20, "transient")
    _check()
    HubSpotCall.delete(force=True).run_sync()
    _calls(50, "ok")

    _check()

    assert _open_alerts() == set()
    assert Alert.count().where(Alert.resolved_at.is_not_null()).run_sync() == 2


def test_a_few_calls_are_not_enough_to_judge_hubspot(db, sandbox) -> None:
    _calls(5, "transient")

    assert _check() == []


def test_slow_answers_alert_on_the_average(db, sandbox) -> None:
    _calls(30, "ok", duration_ms=2500)

    assert {a.metric for a in _check()} == {"response_time"}


def test_a_breaker_open_for_more_than_five_minutes_alerts(db, sandbox) -> None:
    open_breaker()
    since = circuit_breaker().state().since

    early = asyncio.run(alerts.readings(now=since + 299))
    late = asyncio.run(alerts.readings(now=since + 301))

    assert not next(r for r in early if r.metric == "circuit_breaker").crossed
    assert next(r for r in late if r.metric == "circuit_breaker").crossed


def test_a_breaker_that_never_opened_has_been_open_no_time(db, sandbox) -> None:
    measured = asyncio.run(alerts.measure(now=2_000_000_000))

    assert measured.breaker.since is None
    assert measured.breaker_open_s == 0
    assert measured.breaker.calls > 0  # the portal set-up's calls, all answered well
    assert measured.breaker.failure_share == 0


def test_queue_depth_alerts_only_after_five_minutes_above_fifty(db, sandbox) -> None:
    rows = [
        Submission(
            form_type="contact",
            email=f"q{i}@example.com",
            raw_fields={},
            contact_properties={},
            deal_properties={},
            summary={},
        )
        for i in range(51)
    ]
    Submission.insert(*rows).run_sync()

    first = asyncio.run(alerts.readings(now=1_000_000))
    later = asyncio.run(alerts.readings(now=1_000_301))

    assert not next(r for r in first if r.metric == "queue_depth").crossed
    assert next(r for r in later if r.metric == "queue_depth").crossed


def test_daily_usage_above_eighty_percent_alerts(db, sandbox, monkeypatch) -> None:
    limiter = rate_limiter()
    monkeypatch.setattr(limiter, "daily_limit", limiter.used_today() + 10)
    for _ in range(9):
        limiter.acquire()

    assert {a.metric for a in _check()} == {"daily_usage"}
