"""The overview: the spec's six metrics against their thresholds, rows by status and the
call charts, live from the audit log, on the page and in the fragment htmx polls."""

from __future__ import annotations

import datetime as dt

import fakeredis
import pytest
from starlette.testclient import TestClient

from actors import alerts
from actors.services import circuit_breaker, rate_limiter
from crm.breaker import CircuitBreaker
from storage.tables import Alert, HubSpotCall, Submission
from tests.faults import open_breaker
from tests.web.form_pages import HTMX, Page
from tests.web.leads import submit_settled


def _live(client: TestClient) -> Page:
    response = client.get("/admin/live", headers=HTMX)
    assert response.status_code == 200
    return Page(response.text)


def _audit_counts() -> tuple[int, int]:
    """(calls, failed calls) of the last 5 minutes, straight from the audit table."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    rows = HubSpotCall.select(HubSpotCall.outcome).where(HubSpotCall.at >= since).run_sync()
    return len(rows), sum(row["outcome"] not in ("ok", "conflict") for row in rows)


def _calls(count: int, outcome: str, at: dt.datetime | None = None) -> None:
    rows = [
        HubSpotCall(
            at=at or dt.datetime.now(dt.UTC),
            operation="create_contact",
            status=200 if outcome == "ok" else 503,
            outcome=outcome,
            duration_ms=120.0,
        )
        for _ in range(count)
    ]
    HubSpotCall.insert(*rows).run_sync()


def test_synced_then_failed_submissions_move_the_figures(admin: TestClient, sandbox) -> None:
    submit_settled(admin, 3, "synced")
    synced = _live(admin)
    calls, errors = _audit_counts()

    assert synced.text("submissions-synced") == "synced 3"
    assert synced.text("submissions-failed") == "failed 0"
    assert synced.text("metric-success_rate").startswith("API success rate 100%")
    assert f"0 of {calls} calls failed" in synced.text("metric-error_rate")

    sandbox.reset()  # a portal without our custom properties: HubSpot refuses the leads
    submit_settled(admin, 2, "failed")
    failed = _live(admin)
    calls, errors = _audit_counts()

    assert errors >= 1  # a batch call that refused both leads counts once
    assert failed.text("submissions-synced") == "synced 3"
    assert failed.text("submissions-failed") == "failed 2"
    success = f"{(calls - errors) / calls:.1%}".replace(".0%", "%")
    assert f" {success} {calls} calls in the last 5 minutes" in failed.text("metric-success_rate")
    assert f"{errors} of {calls} calls failed" in failed.text("metric-error_rate")
    assert "No errors" not in failed.text("errors-chart-desc")


def test_each_status_count_links_to_its_filtered_list(admin: TestClient, sandbox) -> None:
    page = _live(admin)

    link = page.one("a", id="submissions-link-failed")

    assert link["href"] == "/admin/submissions?status=failed"


def test_crossed_thresholds_are_highlighted_and_marked_in_words(
    admin: TestClient, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _calls(20, "ok")
    _calls(10, "transient")
    limiter = rate_limiter()
    monkeypatch.setattr(limiter, "daily_limit", limiter.used_today() + 10)
    for _ in range(9):
        limiter.acquire()
    used, limit = limiter.used_today(), limiter.daily_limit

    page = _live(admin)

    crossed = {
        str(card["id"]).removeprefix("metric-")
        for card in page.find("li")
        if "crossed" in str(card.get("class"))
    }
    assert crossed == {"success_rate", "error_rate", "daily_usage"}
    assert "Alert" in page.text("metric-error_rate")
    assert "Alert" not in page.text("metric-response_time")
    assert "Threshold: above 5% over 5 minutes (crossed)" in page.text("metric-error_rate")
    assert page.text("metric-error_rate").startswith("Error rate Alert 33.3%")
    share = f"{used / limit:.1%}".replace(".0%", "%")
    assert f"{used:,} of {limit:,} calls ({share}) today" in page.text("metric-daily_usage")


def test_too_few_calls_are_not_judged_and_the_page_says_so(admin: TestClient, sandbox) -> None:
    _calls(5, "transient")

    page = _live(admin)

    assert "crossed" not in str(page.one("li", id="metric-error_rate")["class"])
    assert "too few to judge" in page.text("metric-success_rate")


def test_the_charts_draw_calls_and_errors_per_minute(admin: TestClient, sandbox) -> None:
    ten_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    _calls(3, "ok", at=ten_ago)
    _calls(2, "transient", at=ten_ago)
    clock = ten_ago.strftime("%H:%M")

    page = _live(admin)

    assert page.text("calls-chart-title") == "HubSpot calls per minute, last 60 minutes"
    assert f"{clock} UTC: 5 calls" in page.text("calls-chart")
    assert f"{clock} UTC: 2 errors" in page.text("errors-chart")
    assert page.text("errors-chart-desc").startswith("2 errors from ")
    assert len(page.find("rect", **{"class": "bar"})) == 2  # one bar per chart


def test_the_page_polls_the_fragment_which_comes_alone(admin: TestClient, sandbox) -> None:
    full = admin.get("/admin/")
    fragment = admin.get("/admin/live", headers=HTMX)

    live = Page(full.text).one("div", id="overview-live")
    assert (live["hx-get"], live["hx-trigger"]) == ("/admin/live", "every 5s")
    assert "<html" not in fragment.text and "<nav" not in fragment.text
    assert Page(fragment.text).find("li", id="metric-queue_depth")
    assert Page(full.text).find("li", id="metric-queue_depth")


def test_the_circuit_breaker_shows_its_state_and_since_when(admin: TestClient, sandbox) -> None:
    never_opened = _live(admin).text("metric-circuit_breaker")
    open_breaker()
    opened = _live(admin).text("metric-circuit_breaker")
    circuit_breaker().reset()
    closed_at = dt.datetime.fromtimestamp(circuit_breaker().state().since, dt.UTC)
    closed = _live(admin).text("metric-circuit_breaker")

    assert never_opened.startswith("Circuit breaker closed HubSpot calls go through")
    assert opened.startswith("Circuit breaker open for ") and "HubSpot calls paused" in opened
    assert closed.startswith(f"Circuit breaker closed since {closed_at:%H:%M} UTC")


def _answers(pattern: str) -> None:
    """Tell the breaker of calls answered in this order: F a failure, S a success."""
    for answer in pattern:
        if answer == "F":
            circuit_breaker().record_failure()
        else:
            circuit_breaker().record_success()


def test_the_breaker_shows_the_share_of_calls_that_failed_in_its_window(
    admin: TestClient, sandbox
) -> None:
    circuit_breaker().reset()  # the portal set-up's calls are forgotten
    _answers("FSSS")
    answered = _live(admin).text("metric-circuit_breaker")
    circuit_breaker().reset()
    quiet = _live(admin).text("metric-circuit_breaker")

    assert "1 of 4 calls failed in the last 60 s (25%)" in answered
    assert "No HubSpot call answered in the last 60 s" in quiet


def _calls_per_lead(since: dt.datetime) -> str:
    """Calls per synced lead since `since`, straight from the tables, as the page puts it."""
    calls = HubSpotCall.count().where(HubSpotCall.at >= since).run_sync()
    synced = Submission.count().where(Submission.synced_at >= since).run_sync()
    return f"{calls / synced:.1f}"


def test_daily_usage_shows_the_calls_a_synced_lead_costs(admin: TestClient, sandbox) -> None:
    none_yet = _live(admin).text("metric-daily_usage")
    submit_settled(admin, 3, "synced")
    _calls(5, "transient", at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))  # not counted
    now = dt.datetime.now(dt.UTC)
    hour = _calls_per_lead(now - dt.timedelta(hours=1))
    today = _calls_per_lead(now.replace(hour=0, minute=0, second=0, microsecond=0))

    synced = _live(admin).text("metric-daily_usage")

    assert "Calls per synced lead: – in the last hour, – today, UTC" in none_yet
    assert float(hour) >= 4  # contact, deal, association, note: at least four calls a lead
    assert f"Calls per synced lead: {hour} in the last hour, {today} today, UTC" in synced


def test_open_alerts_are_listed_and_resolved_ones_are_not(admin: TestClient, sandbox) -> None:
    Alert.insert(
        Alert(metric="error_rate", value=0.2, threshold=0.05, message="20% of calls failed."),
        Alert(
            metric="success_rate",
            value=0.8,
            threshold=0.95,
            message="Success was 80%.",
            resolved_at=dt.datetime.now(dt.UTC),
        ),
    ).run_sync()

    text = admin.get("/admin/live").text

    assert "20% of calls failed." in text
    assert "Success was 80%." not in text


def test_without_redis_the_page_still_shows_what_the_database_holds(
    admin: TestClient, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    down = CircuitBreaker(fakeredis.FakeRedis(server=server))
    monkeypatch.setattr(alerts, "circuit_breaker", lambda: down)
    submit_settled(admin, 1, "synced")

    response = admin.get("/admin/")

    assert response.status_code == 200
    assert "Redis does not answer" in response.text
    assert Page(response.text).text("submissions-synced") == "synced 1"


def test_the_overview_polls_as_a_poll_so_an_idle_tab_still_signs_out(admin):
    from tests.web.form_pages import Page

    live = Page(admin.get("/admin/").text).one("div", id="overview-live")

    assert live["hx-headers"] == '{"X-Admin-Poll": "true"}'
    assert admin.get("/admin/live", headers={"X-Admin-Poll": "true"}).status_code == 200
