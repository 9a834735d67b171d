"""The submissions pages: a failed sync shows HubSpot's answer and every call, retrying it
after the cause is fixed syncs it, and the list filters, searches and pages."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from settings import get_settings
from storage.listing import PAGE_SIZE
from storage.tables import Submission
from tests.web.admin.dashboard import actions, pull
from tests.web.form_pages import Page
from tests.web.leads import submit, wait_for_status

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def _insert(n: int, email: str, status: str = "failed", **columns) -> uuid.UUID:
    """A row received `n` minutes after START; no message is queued for it."""
    row = Submission(
        id=uuid.uuid4(),
        form_type=columns.pop("form_type", "contact"),
        status=status,
        email=email,
        raw_fields={"email": email, "serviceInterests": ["Data Preparation"]},
        contact_properties={"email": email, "firstname": "Jane"},
        deal_properties={"dealname": "Website enquiry"},
        summary={},
        created_at=START + dt.timedelta(minutes=n),
        **columns,
    )
    Submission.insert(row).run_sync()
    return row.id


def _fix_the_portal() -> None:
    from actors.services import hubspot_client, property_map
    from crm.setup import set_up_portal

    set_up_portal(hubspot_client(), property_map())


def test_a_failed_sync_shows_hubspots_answer_and_a_retry_syncs_it(admin, sandbox) -> None:
    sandbox.reset()  # a portal without our custom properties: HubSpot refuses the contact
    submission_id = submit(admin)
    failed = wait_for_status(submission_id, "failed")
    detail_path = f"/admin/submissions/{submission_id}"

    listed = admin.get("/admin/submissions?status=failed")
    detail = admin.get(detail_path)

    assert detail_path in listed.text and "jane.smith@example.com" in listed.text
    page = Page(detail.text)
    assert "failed" in page.text("submission-status")
    error = page.text("last-error")
    assert "refused in a batch call" in error and "does not exist" in error
    assert page.text("correlation-id") == failed.last_error_correlation_id
    assert "upsert_contacts" in detail.text and "permanent" in detail.text
    assert "Tech Solutions Inc" in detail.text, "the fields as posted"
    assert page.find("form", action=f"{detail_path}/retry")

    _fix_the_portal()
    response = pull(admin, f"{detail_path}/retry", back_to=detail_path)

    assert response.status_code == 303
    assert response.headers["location"] == f"{detail_path}?done=retried"
    synced = wait_for_status(submission_id, "synced")
    assert synced.hubspot_contact_id == sandbox.contacts()[0]["id"]
    shown = Page(admin.get(response.headers["location"]).text)
    assert "synced" in shown.text("submission-status")
    assert [(a["username"], a["target"]) for a in actions("retry_submission")] == [
        ("ops", submission_id)
    ]


def test_retrying_a_row_that_has_not_failed_does_nothing(admin) -> None:
    submission_id = _insert(1, "ann@example.com", status="synced")

    response = pull(admin, f"/admin/submissions/{submission_id}/retry")

    assert response.headers["location"] == "/admin/submissions?done=not_failed"
    assert "nothing to retry" in admin.get(response.headers["location"]).text
    assert actions("retry_submission") == []


def test_the_list_filters_by_status_and_form_and_searches_by_email_prefix(admin) -> None:
    _insert(1, "ann@example.com", status="failed")
    _insert(2, "anna@example.com", status="synced")
    _insert(3, "ann.quote@example.com", status="failed", form_type="quote_request")
    _insert(4, "joann@example.com", status="failed")

    text = admin.get("/admin/submissions?status=failed&form_type=contact&q=ANN").text

    assert "ann@example.com" in text
    for absent in ("anna@example.com", "ann.quote@example.com", "joann@example.com"):
        assert absent not in text


def test_unknown_filter_values_are_ignored_not_errors(admin) -> None:
    _insert(1, "ann@example.com")

    response = admin.get("/admin/submissions?status=nonsense&form_type=x&before=junk")

    assert response.status_code == 200 and "ann@example.com" in response.text


def test_older_pages_keep_the_filters(admin) -> None:
    for n in range(PAGE_SIZE + 1):
        _insert(n, f"p{n:03}@example.com")
    _insert(PAGE_SIZE + 2, "synced@example.com", status="synced")

    first = Page(admin.get("/admin/submissions?status=failed").text)
    older = first.one("a", rel="next")["href"] or ""
    second = admin.get(older).text

    assert "status=failed" in older
    assert "p000@example.com" in second and "p001@example.com" not in second
    assert "synced@example.com" not in second


@pytest.mark.parametrize("portal_id", [None, "4242"])
def test_hubspot_records_are_linked_when_the_portal_id_is_set(admin, monkeypatch, portal_id):
    monkeypatch.setattr(get_settings(), "hubspot_portal_id", portal_id)
    submission_id = _insert(
        1, "ann@example.com", status="synced", hubspot_contact_id="101", hubspot_deal_id="202"
    )

    page = Page(admin.get(f"/admin/submissions/{submission_id}").text)

    links = {a["href"] for a in page.find("a")}
    contact = "https://app.hubspot.com/contacts/4242/record/0-1/101"
    deal = "https://app.hubspot.com/contacts/4242/record/0-3/202"
    if portal_id:
        assert {contact, deal} <= links
    else:
        assert not any("app.hubspot.com" in (link or "") for link in links)
        assert ">101<" in admin.get(f"/admin/submissions/{submission_id}").text


def test_an_unknown_submission_is_a_404_page(admin) -> None:
    response = admin.get(f"/admin/submissions/{uuid.uuid4()}")

    assert response.status_code == 404 and "No such submission" in response.text
