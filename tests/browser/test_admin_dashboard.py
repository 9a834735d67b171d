"""The dashboard in Chromium: an admin signs in through the form and sees the overview
filled with the figures of real syncs, one of them failed; a screenshot is kept."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
from piccolo.utils.sync import run_sync

from storage.admin import create_admin
from storage.tables import Submission

PASSWORD = "a long enough passphrase"
METRICS = (
    "success_rate",
    "response_time",
    "error_rate",
    "circuit_breaker",
    "queue_depth",
    "daily_usage",
)
SETTLE_TIMEOUT_S = 20.0


def post_leads(base_url: str, count: int) -> None:
    for n in range(count):
        lead = {
            "email": f"lead{n}@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "company": "Engines",
            "country": "GB",
            "serviceInterests": ["data_collection"],
        }
        assert httpx2.post(f"{base_url}/api/contact", json=lead).status_code == 202


def wait_until_settled(count: int) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    settled = Submission.status.is_in(["synced", "failed"])
    while Submission.count().where(settled).run_sync() < count:
        assert time.monotonic() < deadline, "the submissions did not settle"
        time.sleep(0.1)


def test_an_admin_signs_in_and_sees_the_overview_with_data(
    page, live_server: str, sandbox_server, tmp_path: Path
) -> None:
    run_sync(create_admin("ops", "ops@example.com", PASSWORD))
    post_leads(live_server, 3)
    wait_until_settled(3)
    sandbox_server.app.state.faults.configure(error_rate=1, error_statuses=[400])
    post_leads(live_server, 1)
    wait_until_settled(4)
    sandbox_server.app.state.faults.clear()

    page.goto("/admin/")
    page.wait_for_url("**/admin/login?next=/admin/")
    page.fill("#username", "ops")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")

    for metric in METRICS:
        assert page.locator(f"#metric-{metric}").is_visible(), metric
    assert page.locator("#submissions-synced td.number").inner_text() == "3"
    assert page.locator("#submissions-failed td.number").inner_text() == "1"
    assert page.locator(".chart svg").count() == 2
    screenshot = page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    assert screenshot.startswith(b"\x89PNG") and len(screenshot) > 10_000
