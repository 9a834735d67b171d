"""Operations endpoints: `/metrics` for Prometheus (figures from the audit log and Redis,
a token when one is set) and `/readyz` (database, broker, storage, each named)."""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace

import fakeredis
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from actors.services import circuit_breaker, rate_limiter
from crm.breaker import CircuitBreaker
from settings import get_settings
from storage.objects import LocalObjectStore
from storage.tables import HubSpotCall, Submission
from tests.faults import open_breaker
from tests.web.leads import submit_settled
from web import health, metrics


def _scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, by (name, sorted labels)."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _calls_total(samples: dict, outcome: str) -> float:
    return samples.get(("leadsync_hubspot_calls_total", (("outcome", outcome),)), 0.0)


def test_calls_are_counted_by_outcome_after_synced_and_failed_submissions(
    client: TestClient, sandbox
) -> None:
    submit_settled(client, 2, "synced")
    synced = _scrape(client)
    sandbox.reset()  # a portal without our custom properties: HubSpot answers 400
    submit_settled(client, 1, "failed")
    failed = _scrape(client)

    assert _calls_total(synced, "ok") >= 8  # four calls per synced submission
    assert synced[("leadsync_synced_submissions_total", ())] == 2
    assert _calls_total(synced, "permanent") == 0
    assert _calls_total(failed, "permanent") >= 1
    rows = HubSpotCall.count().run_sync()
    by_outcome = [v for (name, _), v in failed.items() if name == "leadsync_hubspot_calls_total"]
    assert sum(by_outcome) == rows
    assert failed[("leadsync_hubspot_call_duration_seconds_count", ())] == rows
    recent = ("leadsync_hubspot_recent_calls", (("outcome", "permanent"),))
    assert failed[recent] == _calls_total(failed, "permanent")
    assert failed[("leadsync_hubspot_daily_calls", ())] >= rows
    assert failed[("leadsync_hubspot_daily_limit", ())] == get_settings().hubspot_daily_limit
    assert failed[("leadsync_synced_submissions_total", ())] == 2


def test_latency_lands_in_cumulative_buckets_in_seconds(client: TestClient, sandbox) -> None:
    HubSpotCall.insert(
        *(
            HubSpotCall(operation="create_deal", status=200, outcome="ok", duration_ms=ms)
            for ms in (30.0, 150.0, 3_000.0)
        )
    ).run_sync()

    samples = _scrape(client)

    bucket = "leadsync_hubspot_call_duration_seconds_bucket"
    assert samples[(bucket, (("le", "0.05"),))] == 1
    assert samples[(bucket, (("le", "0.25"),))] == 2
    assert samples[(bucket, (("le", "2.0"),))] == 2
    assert samples[(bucket, (("le", "+Inf"),))] == 3
    assert samples[("leadsync_hubspot_call_duration_seconds_sum", ())] == pytest.approx(3.18)


def test_queue_depth_and_an_open_breaker_with_its_window_are_exported(
    client: TestClient, sandbox
) -> None:
    Submission.insert(
        *(
            Submission(
                form_type="contact",
                email=f"q{i}@example.com",
                raw_fields={},
                contact_properties={},
                deal_properties={},
                summary={},
            )
            for i in range(3)
        )
    ).run_sync()
    open_breaker()

    samples = _scrape(client)

    assert samples[("leadsync_sync_queue_depth", ())] == 3
    assert samples[("leadsync_hubspot_breaker_state", (("state", "open"),))] == 2
    breaker = circuit_breaker().state()
    since = samples[("leadsync_hubspot_breaker_since_seconds", ())]
    assert since == pytest.approx(breaker.since)
    assert samples[("leadsync_hubspot_breaker_window_failures", ())] == breaker.failures >= 5
    assert samples[("leadsync_hubspot_breaker_window_calls", ())] == breaker.calls > 5


def test_a_breaker_that_never_moved_exports_no_since(client: TestClient, sandbox) -> None:
    samples = _scrape(client)

    assert samples[("leadsync_hubspot_breaker_state", (("state", "closed"),))] == 0
    assert ("leadsync_hubspot_breaker_since_seconds", ()) not in samples
    assert samples[("leadsync_hubspot_breaker_window_failures", ())] == 0


def test_without_redis_the_database_figures_are_still_served(
    client: TestClient, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    monkeypatch.setattr(
        metrics, "circuit_breaker", lambda: CircuitBreaker(fakeredis.FakeRedis(server=server))
    )

    samples = _scrape(client)

    assert samples[("leadsync_redis_up", ())] == 0
    assert ("leadsync_sync_queue_depth", ()) in samples
    assert not any(name.startswith("leadsync_hubspot_breaker") for name, _ in samples)


def test_a_set_metrics_token_is_required_as_a_bearer_token(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-token-for-tests")

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    basic = client.get("/metrics", headers={"Authorization": "Basic scrape-token-for-tests"})

    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "leadsync_" not in missing.text
    assert _scrape(client, Authorization="Bearer scrape-token-for-tests")


def test_metrics_is_not_behind_the_admin_sign_in(client: TestClient) -> None:
    response = client.get("/metrics", follow_redirects=False)

    assert response.status_code == 200


def test_ready_when_database_broker_and_storage_answer(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


def test_an_unreachable_redis_makes_the_process_not_ready(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    monkeypatch.setattr(health, "redis_client", lambda: fakeredis.FakeRedis(server=server))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "failed (ConnectionError)",
        "storage": "ok",
    }


def test_a_check_that_hangs_times_out(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.1)
    monkeypatch.setattr(health, "redis_client", lambda: SimpleNamespace(ping=lambda: time.sleep(1)))

    started = time.monotonic()
    response = client.get("/readyz")

    assert time.monotonic() - started < 1
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "timed out"


def test_storage_that_cannot_be_written_makes_the_process_not_ready(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    not_a_directory = tmp_path / "uploads"
    not_a_directory.write_text("a file where the upload folder should be")
    store = LocalObjectStore(not_a_directory, "test-secret-key-not-for-production")
    monkeypatch.setattr(health, "object_store", lambda: store)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "failed (FileExistsError)"
    assert str(tmp_path) not in response.text


def test_daily_usage_follows_the_rate_limiter(client: TestClient, sandbox) -> None:
    before = _scrape(client)[("leadsync_hubspot_daily_calls", ())]
    for _ in range(3):
        rate_limiter().acquire()

    after = _scrape(client)[("leadsync_hubspot_daily_calls", ())]

    assert after == before + 3


def test_counters_start_at_midnight_utc(client: TestClient, sandbox) -> None:
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1, minutes=1)
    HubSpotCall.insert(
        HubSpotCall(at=yesterday, operation="create_deal", status=200, outcome="ok", duration_ms=1)
    ).run_sync()

    samples = _scrape(client)

    assert _calls_total(samples, "ok") == 0
    assert samples[("leadsync_hubspot_call_duration_seconds_count", ())] == 0
