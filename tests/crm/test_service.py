"""`CRMService` against the sandbox: one contact per e-mail, one deal and note per submission."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from actors.services import crm_service
from crm.batch_sync import Lead, SyncProgress
from crm.service import CRMService, InvalidSubmission

FORM = {
    "email": "jane.smith@example.com",
    "firstName": "jane",
    "lastName": "smith",
    "company": "Tech Solutions Inc",
    "jobTitle": "Product Manager",
    "phone": "+44 20 7946 0958",
    "country": "GB",
    "serviceInterests": ["Data Preparation", "AI Model Development"],
    "projectDetails": "Looking for AI solutions for customer data analysis",
}


@pytest.fixture
def service(sandbox) -> CRMService:
    return crm_service()


def test_a_submission_becomes_a_contact_an_associated_deal_and_a_note(
    service: CRMService, sandbox
) -> None:
    ids = service.process_form_submission(FORM, "demo_request")

    [contact] = sandbox.contacts()
    assert contact["id"] == ids["contact_id"]
    assert {
        k: contact["properties"].get(k)
        for k in (
            "email",
            "firstname",
            "lastname",
            "company",
            "jobtitle",
            "phone",
            "country",
            "service_interest",
            "project_description",
            "lead_source",
            "form_type",
            "lifecyclestage",
        )
    } == {
        "email": "jane.smith@example.com",
        "firstname": "Jane",
        "lastname": "Smith",
        "company": "Tech Solutions Inc",
        "jobtitle": "Product Manager",
        "phone": "+442079460958",
        "country": "GB",
        "service_interest": "data_preparation;ai_model_development",
        "project_description": "Looking for AI solutions for customer data analysis",
        "lead_source": "Website",
        "form_type": "demo_request",
        "lifecyclestage": "salesqualifiedlead",
    }
    [deal] = sandbox.deals()
    assert deal["id"] == ids["deal_id"]
    assert deal["properties"]["dealstage"] == "appointmentscheduled"
    assert (contact["id"], 3) in sandbox.associations("deals", deal["id"], "contacts")
    [note] = sandbox.notes()
    assert note["id"] == ids["activity_id"]
    assert {to_id for to_id, _ in sandbox.associations("notes", note["id"], "contacts")} == {
        contact["id"]
    }
    assert {to_id for to_id, _ in sandbox.associations("notes", note["id"], "deals")} == {
        deal["id"]
    }


def test_the_same_email_twice_is_one_contact_and_two_deals(service: CRMService, sandbox) -> None:
    first = service.process_form_submission(FORM, "contact")
    second = service.process_form_submission(dict(FORM, email="JANE.SMITH@example.com"), "contact")

    assert first["contact_id"] == second["contact_id"]
    assert len(sandbox.contacts()) == 1
    assert len(sandbox.deals()) == 2


def test_the_same_email_twice_at_once_is_still_one_contact(service: CRMService, sandbox) -> None:
    results: list[dict] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        barrier.wait()
        results.append(service.process_form_submission(FORM, "contact"))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert len({r["contact_id"] for r in results}) == 1
    assert len(sandbox.contacts()) == 1
    assert len(sandbox.deals()) == 4


def _sync(service: CRMService, lead: Lead) -> Lead:
    service.sync_leads([lead], lambda leads: None)
    return lead


def test_resuming_a_finished_sync_writes_nothing(service: CRMService, sandbox) -> None:
    payload = service.build_payload(FORM, "contact", str(uuid.uuid4()))
    progress = _sync(service, Lead(payload, SyncProgress())).progress
    calls_before = len(sandbox.request_log)

    _sync(service, Lead(payload, progress))

    assert len(sandbox.request_log) == calls_before


def test_a_rerun_after_every_answer_was_lost_duplicates_nothing(
    service: CRMService, sandbox
) -> None:
    payload = service.build_payload(FORM, "contact", str(uuid.uuid4()))
    _sync(service, Lead(payload, SyncProgress()))

    # The worst case: every write happened, yet nothing was recorded except that a
    # note was being sent.
    rerun = _sync(service, Lead(payload, SyncProgress(activity_attempted_at=time.time() - 3600)))

    assert rerun.problem is None and rerun.progress.done

    assert len(sandbox.contacts()) == 1
    assert len(sandbox.deals()) == 1
    assert len(sandbox.notes()) == 1


def test_lifecycle_stage_never_moves_backwards(service: CRMService, sandbox) -> None:
    service.process_form_submission(FORM, "quote_request")
    service.process_form_submission(FORM, "contact")

    [contact] = sandbox.contacts()
    assert contact["properties"]["lifecyclestage"] == "opportunity"
    assert contact["properties"]["form_type"] == "contact"


def test_invalid_form_data_is_refused_before_any_call(service: CRMService, sandbox) -> None:
    calls_before = len(sandbox.request_log)

    with pytest.raises(InvalidSubmission) as caught:
        service.process_form_submission(dict(FORM, email="nope"), "contact")

    assert "email" in caught.value.errors
    assert len(sandbox.request_log) == calls_before


def test_a_ticked_consent_records_when_and_under_which_policy(service, sandbox) -> None:
    ids = service.process_form_submission(dict(FORM, marketingConsent=True), "contact")

    [contact] = sandbox.contacts()
    assert contact["id"] == ids["contact_id"]
    assert contact["properties"]["marketing_consent"] == "true"
    assert contact["properties"]["privacy_policy_version"] == service.privacy_policy_version
    assert contact["properties"]["marketing_consent_date"]


def test_an_unticked_consent_never_withdraws_an_earlier_yes(service, sandbox) -> None:
    service.process_form_submission(dict(FORM, marketingConsent="on"), "contact")

    service.process_form_submission(dict(FORM, marketingConsent="false"), "contact")

    assert sandbox.contacts()[0]["properties"]["marketing_consent"] == "true"


def test_a_returning_visitor_does_not_overwrite_what_sales_curated(service, sandbox) -> None:
    service.process_form_submission(FORM, "contact")
    contact_id = sandbox.contacts()[0]["id"]
    service.client.update_contact(
        contact_id, {"company": "Tech Solutions (Enterprise)", "lead_source": "Trade show"}
    )

    service.process_form_submission(
        dict(FORM, company="tech solutions", jobTitle="VP Product"), "contact"
    )

    properties = sandbox.contacts()[0]["properties"]
    assert properties["company"] == "Tech Solutions (Enterprise)"  # if_empty
    assert properties["lead_source"] == "Trade show"  # never
    assert properties["jobtitle"] == "VP Product"  # overwrite
