"""A thousand submissions through real processes while HubSpot and Redis misbehave:
nothing lost, nothing duplicated, HubSpot's burst never exceeded (issues 3 and 10)."""

from __future__ import annotations

import pytest

from tests.integration.chaos import ChaosConfig, ChaosRun

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_every_submission_lands_exactly_once_through_faults_and_crashes(postgres, tmp_path):
    config = ChaosConfig(submissions=1000, distinct_emails=300)

    report = ChaosRun(config, postgres, tmp_path).run()
    print("\n".join(report.lines()))

    assert report.statuses == {"synced": 1000}
    assert report.counts == {"contacts": 300, "deals": 1000, "notes": 1000}
    assert report.submission_ids_on_deals == 1000
    assert report.max_in_window <= config.burst_limit
    assert report.faults["errors"] > 0 and report.faults["lost_answers"] > 0
    assert report.faults["timeouts"] > 0 and report.faults["outage"] > 0
