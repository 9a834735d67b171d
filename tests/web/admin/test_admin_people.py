"""The People pages: an admin finds a person, exports what is held about them, and erases
them here and in HubSpot (contact, deals and notes); another person is left as they were,
and the audit trail proves the erasure without keeping the e-mail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from actors.erasure import ERASE, EXPORT, HUBSPOT_OUTCOME
from storage import people
from storage.admin import AdminAction
from storage.objects import object_store
from storage.tables import Submission
from storage.uploads import Upload
from tests.web.admin.signing import csrf_of
from tests.web.form_pages import Page
from tests.web.leads import eventually
from tests.web.uploading import complete

ERIN = "erin.doe@example.com"
OLGA = "olga@example.com"
CSV = b"id,name,amount\n1,Erin,3.5\n2,Olga,4\n"
#: Seconds a sync, an upload or a HubSpot deletion may take in the embedded worker.
SETTLE_TIMEOUT_S = 30


def _submit(client: TestClient, email: str) -> str:
    form = {"email": email, "firstName": email.split(".")[0].title(), "company": "Acme"}
    form |= {"lastName": "Doe", "country": "DE", "serviceInterests": ["Data Collection"]}
    answer = client.post("/api/contact", json=form)
    assert answer.status_code == 202, answer.json()
    return answer.json()["data"]["submission_id"]


def _upload(client: TestClient, email: str) -> str:
    """Upload a CSV through the local store and wait for HubSpot to hear of it; its key."""
    body = {"email": email, "filename": "sample.csv", "contentType": "text/csv", "size": len(CSV)}
    target = client.post("/api/uploads", json=body).json()["data"]
    files = {"file": ("sample.csv", CSV, "text/csv")}
    assert client.post(target["url"], data=target["fields"], files=files).status_code == 204
    assert complete(client, target).status_code == 202

    def settled() -> bool:
        data = client.get(target["status_url"]).json()["data"]
        return (data.get("crm") or {}).get("status") == "synced"

    eventually(settled, "the upload to reach HubSpot", SETTLE_TIMEOUT_S)
    return target["fields"]["key"]


def _all_synced() -> bool:
    statuses = Submission.select(Submission.status).run_sync()
    return bool(statuses) and all(row["status"] == "synced" for row in statuses)


@pytest.fixture
def two_people(admin: TestClient, sandbox) -> dict[str, str]:
    """Erin and Olga each sent a form and a file, all in HubSpot; their files' keys."""
    _submit(admin, ERIN)
    _submit(admin, OLGA)
    keys = {ERIN: _upload(admin, ERIN), OLGA: _upload(admin, OLGA)}
    eventually(_all_synced, "both syncs", SETTLE_TIMEOUT_S)
    return keys


def _post(admin: TestClient, path: str, **fields: str) -> Any:
    token = csrf_of(admin, "/admin/people")
    return admin.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def _erase(admin: TestClient, email: str, confirm: str | None = None) -> Any:
    return _post(admin, "/admin/people/erase", email=email, confirm_email=confirm or email)


def _contacts(sandbox) -> set[str]:
    return {contact["properties"]["email"] for contact in sandbox.contacts()}


def _made_in_hubspot(email: str) -> dict[str, set[str]]:
    """The deals (by their `submission_id`) and notes (forms' and uploads') of `email`."""
    forms = Submission.select().where(Submission.email == email).run_sync()
    uploads = Upload.select().where(Upload.email == email).run_sync()
    return {
        "deals": {str(row["id"]) for row in forms},
        "notes": {row["hubspot_activity_id"] for row in [*forms, *uploads]},
    }


def _live_in_hubspot(sandbox) -> dict[str, set[str]]:
    """The deals (by their `submission_id`) and notes the sandbox holds, not archived."""
    return {
        "deals": {d["properties"]["submission_id"] for d in sandbox.deals() if not d["archived"]},
        "notes": {n["id"] for n in sandbox.notes() if not n["archived"]},
    }


def _trail() -> list[dict[str, Any]]:
    return AdminAction.select().order_by(AdminAction.id).output(load_json=True).run_sync()


def _hubspot_outcome() -> dict[str, Any] | None:
    outcomes = [row for row in _trail() if row["action"] == HUBSPOT_OUTCOME]
    return outcomes[-1] if outcomes else None


def test_finding_a_person_shows_what_is_held_about_them(admin, two_people, sandbox) -> None:
    page = _post(admin, "/admin/people", email=" Erin.Doe@Example.com ")

    assert page.status_code == 200
    counts = Page(page.text).text("person-counts")
    assert "Submissions 1" in counts and "Uploads 1 (1 analysed)" in counts
    [erin] = [c for c in sandbox.contacts() if c["properties"]["email"] == ERIN]
    assert f"HubSpot contact {erin['id']}" in counts
    assert OLGA not in page.text


def test_the_export_is_a_json_download_of_the_person_only_and_is_recorded(
    admin, two_people
) -> None:
    answer = _post(admin, "/admin/people/export", email=ERIN)

    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith('attachment; filename="personal-')
    assert answer.headers["content-disposition"].endswith('.json"')
    assert answer.headers["cache-control"] == "no-store"
    exported = answer.json()
    assert exported["email"] == ERIN and OLGA not in answer.text
    [submission] = exported["submissions"]
    assert submission["raw_fields"]["firstName"] == "Erin"
    [upload] = exported["uploads"]
    assert upload["filename"] == "sample.csv" and upload["analysis"]["row_count"] == 2
    [record] = [row for row in _trail() if row["action"] == EXPORT]
    assert record["target"] == people.email_hash(ERIN) and ERIN not in json.dumps(record["detail"])


def test_the_export_is_never_a_get(admin) -> None:
    assert admin.get("/admin/people/export").status_code == 405


def test_erasing_deletes_everything_here_and_the_contact_deals_and_notes_in_hubspot(
    admin, two_people, sandbox
) -> None:
    olgas = _made_in_hubspot(OLGA)
    assert len(olgas["notes"]) == 2 and len(_made_in_hubspot(ERIN)["notes"]) == 2

    answer = _erase(admin, ERIN, confirm=" ERIN.DOE@example.com")

    assert answer.status_code == 303
    status_page = answer.headers["location"]
    assert status_page == f"/admin/people/erasures/{people.email_hash(ERIN)}"
    # Local rows and files are gone at once; HubSpot's deletion follows.
    erin = Page(_post(admin, "/admin/people", email=ERIN).text).text("person-counts")
    assert erin.startswith("Nothing is held here about this address")
    assert object_store().size(two_people[ERIN]) is None
    eventually(_hubspot_outcome, "HubSpot's answer", SETTLE_TIMEOUT_S)
    assert _contacts(sandbox) == {OLGA}
    assert _live_in_hubspot(sandbox) == olgas, "only Olga's deal and notes are left"
    # Olga is untouched, here and in HubSpot.
    olga = Page(_post(admin, "/admin/people", email=OLGA).text).text("person-counts")
    assert "Submissions 1" in olga and "Uploads 1" in olga
    assert object_store().size(two_people[OLGA]) is not None
    # The trail proves the erasure by the e-mail's hash and never holds the e-mail.
    erasure, outcome = [row for row in _trail() if row["action"] in (ERASE, HUBSPOT_OUTCOME)]
    assert erasure["target"] == outcome["target"] == people.email_hash(ERIN)
    assert erasure["detail"]["deleted"]["submissions"] == 1
    assert erasure["detail"]["files_deleted"] == 1
    assert outcome["detail"]["hubspot"] == "deleted"
    assert outcome["detail"]["notes_archived"] == 2 and outcome["detail"]["deals_archived"] == 1
    assert ERIN not in json.dumps(_trail(), default=str)
    page = admin.get(status_page)
    assert "HubSpot confirmed the GDPR delete" in page.text
    fragment = admin.get(status_page, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "hx-trigger" not in fragment.text


def test_a_confirmation_that_does_not_match_deletes_nothing(admin, two_people, sandbox) -> None:
    answer = _erase(admin, ERIN, confirm=OLGA)

    assert answer.status_code == 400
    assert "does not match. Nothing was deleted" in answer.text
    assert _contacts(sandbox) == {ERIN, OLGA}
    assert not [row for row in _trail() if row["action"] == ERASE]


def test_a_person_whose_sync_is_running_is_not_erased(admin, two_people, sandbox) -> None:
    import datetime as dt

    lease = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    Submission.update({Submission.status: "syncing", Submission.lease_until: lease}).where(
        Submission.email == ERIN
    ).run_sync()

    answer = _erase(admin, ERIN)

    assert answer.status_code == 409
    assert "being processed right now" in answer.text and "Nothing was deleted" in answer.text
    assert _contacts(sandbox) == {ERIN, OLGA}
    assert object_store().size(two_people[ERIN]) is not None


def test_a_hubspot_deletion_that_failed_is_shown_and_can_be_asked_again(
    admin, two_people, sandbox, faults
) -> None:
    olgas, everything = _made_in_hubspot(OLGA), _live_in_hubspot(sandbox)
    faults.configure(error_rate=1, error_statuses=[503])
    status_page = _erase(admin, ERIN).headers["location"]
    eventually(_hubspot_outcome, "the HubSpot deletion to give up", SETTLE_TIMEOUT_S)

    failed = admin.get(status_page)
    assert "HubSpot did not delete the contact" in failed.text
    assert _contacts(sandbox) == {ERIN, OLGA} and _live_in_hubspot(sandbox) == everything

    faults.clear()
    token = Page(failed.text).find("input", name="csrf_token")[-1]["value"]
    again = admin.post(
        "/admin/people/erase",
        data={"csrf_token": token, "email": ERIN, "confirm_email": ERIN},
        follow_redirects=False,
    )

    assert again.status_code == 303
    eventually(
        lambda: _contacts(sandbox) == {OLGA}, "HubSpot to delete the contact", SETTLE_TIMEOUT_S
    )
    eventually(
        lambda: _hubspot_outcome()["detail"]["hubspot"] == "deleted",
        "the outcome",
        SETTLE_TIMEOUT_S,
    )
    # Erin's rows went with the first erasure; its record still named her deal and notes.
    assert _live_in_hubspot(sandbox) == olgas
    assert "HubSpot confirmed the GDPR delete" in admin.get(status_page).text


def test_an_address_never_erased_has_no_erasure_page(admin) -> None:
    answer = admin.get(f"/admin/people/erasures/{people.email_hash(ERIN)}")

    assert answer.status_code == 404
