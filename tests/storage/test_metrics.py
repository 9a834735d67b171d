"""Dashboard figures on both databases: only calls inside the window count, failures are
told from successes, and counts come grouped from the database."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from storage import metrics
from storage.tables import HubSpotCall, Submission
from storage.uploads import Upload

NOW = dt.datetime.now(dt.UTC)


def _call(ago_s: float, outcome: str = "ok", duration_ms: float = 100.0) -> HubSpotCall:
    return HubSpotCall(
        at=NOW - dt.timedelta(seconds=ago_s),
        operation="create_contact",
        status=200 if outcome == "ok" else 503,
        outcome=outcome,
        duration_ms=duration_ms,
    )


def _insert(*calls: HubSpotCall) -> None:
    HubSpotCall.insert(*calls).run_sync()


def test_call_stats_count_the_window_and_take_the_nearest_rank_p95(any_db) -> None:
    _insert(*(_call(10, duration_ms=float(ms)) for ms in range(1, 20)))
    _insert(_call(20, "transient", 20.0), _call(30, "conflict", 10.0))
    _insert(_call(600, "transient", 9_999.0))  # before the window

    stats = asyncio.run(metrics.call_stats(300))

    assert (stats.calls, stats.errors) == (21, 1)
    assert stats.average_ms == sum(range(1, 21), 10) / 21
    assert stats.p95_ms == 19.0  # the 20th of 21 sorted durations
    assert stats.error_rate == 1 / 21


def test_call_stats_of_an_empty_window_have_no_rates(any_db) -> None:
    _insert(_call(600))

    stats = asyncio.run(metrics.call_stats(300))

    assert stats == metrics.CallStats(0, 0, None, None)
    assert stats.success_rate is None


def test_calls_by_outcome_count_each_outcome_and_its_latency_buckets(any_db) -> None:
    _insert(_call(5, "ok", 50.0), _call(5, "ok", 100.0), _call(5, "ok", 2_500.0))
    _insert(_call(5, "rate_limited", 80.0), _call(7_200, "ok", 10.0))

    found = asyncio.run(
        metrics.calls_by_outcome(NOW - dt.timedelta(hours=1), bounds_ms=(100.0, 1_000.0))
    )

    assert found == {
        "ok": metrics.OutcomeCalls(3, 2_650.0, (2, 2)),
        "rate_limited": metrics.OutcomeCalls(1, 80.0, (1, 1)),
    }


def test_calls_per_minute_buckets_the_last_hour_by_utc_minute(any_db) -> None:
    now = NOW.replace(second=30)
    _insert(*(_call(0, "ok") for _ in range(3)))  # at NOW: its minute is the last one
    _insert(
        HubSpotCall(
            at=now - dt.timedelta(minutes=10),
            operation="create_deal",
            status=500,
            outcome="transient",
            duration_ms=40.0,
        ),
        HubSpotCall(
            at=now - dt.timedelta(minutes=61),
            operation="create_deal",
            status=200,
            outcome="ok",
            duration_ms=40.0,
        ),
    )

    minutes = asyncio.run(metrics.calls_per_minute(60, now=NOW))

    assert len(minutes) == 60
    assert minutes[-1].minute == NOW.replace(second=0, microsecond=0)
    assert minutes[0].minute == minutes[-1].minute - dt.timedelta(minutes=59)
    assert (minutes[-1].calls, minutes[-1].errors) == (3, 0)
    assert (minutes[-11].calls, minutes[-11].errors) == (1, 1)
    assert sum(minute.calls for minute in minutes) == 4


def _submission(status: str, synced_ago_s: float | None = None) -> Submission:
    synced_at = None if synced_ago_s is None else NOW - dt.timedelta(seconds=synced_ago_s)
    return Submission(
        form_type="contact",
        status=status,
        synced_at=synced_at,
        email=f"{uuid.uuid4().hex[:8]}@example.com",
        raw_fields={},
        contact_properties={},
        deal_properties={},
        summary={},
    )


def test_rows_are_counted_per_status(any_db) -> None:
    Submission.insert(
        *(_submission(status) for status in ["synced"] * 3 + ["failed"] * 2 + ["pending"])
    ).run_sync()
    Upload.insert(
        Upload(
            email="lee@example.com",
            filename="a.csv",
            content_type="text/csv",
            declared_size=10,
            object_key="uploads/a",
            status="completed",
            expires_at=NOW,
            results_url="http://127.0.0.1:8000/uploads/a",
        )
    ).run_sync()

    assert asyncio.run(metrics.count_by(Submission.status)) == {
        "synced": 3,
        "failed": 2,
        "pending": 1,
    }
    assert asyncio.run(metrics.count_by(Upload.status)) == {"completed": 1}
    assert asyncio.run(metrics.submissions_waiting()) == 1


def test_calls_per_synced_lead_divide_the_windows_calls_by_the_leads_synced_in_it(
    any_db,
) -> None:
    _insert(*(_call(ago_s) for ago_s in (60, 120, 1_800, 5_400)))
    _insert(_call(30, "transient"))  # failures use up quota too
    Submission.insert(
        _submission("synced", synced_ago_s=300),
        _submission("synced", synced_ago_s=900),
        _submission("synced", synced_ago_s=6_000),
        _submission("pending"),
    ).run_sync()

    hour = asyncio.run(metrics.calls_per_synced_lead(NOW - dt.timedelta(hours=1)))
    two_hours = asyncio.run(metrics.calls_per_synced_lead(NOW - dt.timedelta(hours=2)))

    assert hour == metrics.LeadCalls(calls=4, synced=2) and hour.per_lead == 2.0
    assert two_hours == metrics.LeadCalls(calls=5, synced=3)
    assert two_hours.per_lead == 5 / 3


def test_calls_while_no_lead_synced_have_no_calls_per_lead(any_db) -> None:
    _insert(_call(60), _call(90))
    Submission.insert(_submission("failed"), _submission("synced", synced_ago_s=7_200)).run_sync()

    figures = asyncio.run(metrics.calls_per_synced_lead(NOW - dt.timedelta(hours=1)))

    assert figures == metrics.LeadCalls(calls=2, synced=0)
    assert figures.per_lead is None
