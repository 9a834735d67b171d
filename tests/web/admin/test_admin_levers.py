"""The levers: retry all failed, pause and resume syncing, reset the breaker. Each returns
the admin to the page with a fixed notice and leaves a line in the admin audit trail."""

from __future__ import annotations

import pytest

from actors import sync_control
from actors.broker import broker
from actors.services import circuit_breaker
from storage.tables import Submission
from tests.faults import open_breaker
from tests.web.admin.dashboard import actions, pull
from tests.web.form_pages import Page
from tests.web.leads import eventually, submit, wait_for_status


def test_retry_all_failed_syncs_every_failed_submission(admin, sandbox) -> None:
    from actors.services import hubspot_client, property_map
    from crm.setup import set_up_portal

    sandbox.reset()  # a portal without our custom properties: HubSpot answers 400
    ids = [submit(admin, email=f"lead{n}@example.com") for n in range(2)]
    for submission_id in ids:
        wait_for_status(submission_id, "failed")
    set_up_portal(hubspot_client(), property_map())

    response = pull(admin, "/admin/submissions/retry-failed", back_to="/admin/submissions")

    assert response.headers["location"] == "/admin/submissions?done=retrying_all"
    for submission_id in ids:
        wait_for_status(submission_id, "synced")
    [recorded] = actions("retry_all_failed")
    assert recorded["username"] == "ops" and recorded["detail"] == {"failed": 2}


def _crm_queue_drained() -> bool:
    return broker.client.hlen("dramatiq:crm.msgs") == 0


def test_while_paused_leads_are_stored_but_not_sent_until_the_resume(admin, sandbox) -> None:
    response = pull(admin, "/admin/sync/pause")
    calls = len(sandbox.request_log)

    submission_id = submit(admin)
    eventually(_crm_queue_drained, "the worker to take the message")

    assert response.headers["location"] == "/admin/submissions?done=paused"
    page = admin.get(response.headers["location"]).text
    assert "Syncing to HubSpot is paused" in page and "Resume syncing" in page
    assert "Syncing is paused. Forms are still accepted" in page
    row = Submission.select().where(Submission.id == submission_id).first().run_sync()
    assert row["status"] == "pending" and row["attempts"] == 0
    assert len(sandbox.request_log) == calls, "no HubSpot call while paused"

    resumed = pull(admin, "/admin/sync/resume")

    assert resumed.headers["location"] == "/admin/submissions?done=resumed"
    wait_for_status(submission_id, "synced")
    assert "Syncing to HubSpot is paused" not in admin.get("/admin/submissions").text
    assert [a["username"] for a in actions("pause_sync") + actions("resume_sync")] == ["ops"] * 2


def test_pausing_twice_is_said_and_recorded_once(admin) -> None:
    pull(admin, "/admin/sync/pause")

    again = pull(admin, "/admin/sync/pause")

    assert again.headers["location"] == "/admin/submissions?done=already_paused"
    assert len(actions("pause_sync")) == 1 and sync_control.is_paused()


def test_resetting_the_breaker_closes_it(admin, sandbox) -> None:
    open_breaker()
    assert circuit_breaker().state().state == "open"
    assert "status-open" in admin.get("/admin/submissions").text

    response = pull(admin, "/admin/breaker/reset")

    assert circuit_breaker().state().state == "closed"
    assert "HubSpot calls go out again" in admin.get(response.headers["location"]).text
    [recorded] = actions("reset_breaker")
    assert recorded["username"] == "ops" and recorded["detail"] == {"was": "open"}


@pytest.mark.parametrize(
    ("back_to", "location"),
    [
        ("/admin/submissions?status=failed&done=paused", "/admin/submissions?status=failed"),
        ("https://evil.example/admin/", "/admin/"),
        ("//evil.example/", "/admin/"),
    ],
)
def test_a_lever_returns_only_to_a_dashboard_page(admin, back_to, location) -> None:
    token = Page(admin.get("/admin/submissions").text).find("input", name="csrf_token")[0]
    fields = {"csrf_token": token["value"], "next": back_to}

    response = admin.post("/admin/sync/pause", data=fields, follow_redirects=False)

    separator = "&" if "?" in location else "?"
    assert response.headers["location"] == f"{location}{separator}done=paused"


def test_the_notice_is_chosen_by_key_never_echoed(admin) -> None:
    text = admin.get("/admin/submissions?done=<b>pwned</b>").text

    assert "pwned" not in text and 'class="flash"' not in text


def test_the_activity_page_lists_who_did_what_newest_first(admin) -> None:
    pull(admin, "/admin/sync/pause")
    pull(admin, "/admin/sync/resume")

    text = admin.get("/admin/activity").text

    assert text.index("resume_sync") < text.index("pause_sync") < text.index("sign_in")
    assert "ops" in text
