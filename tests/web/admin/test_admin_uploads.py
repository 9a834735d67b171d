"""The uploads pages: the list filters and searches, and an upload's detail shows its
analysis and the HubSpot calls of its contact update."""

from __future__ import annotations

import asyncio
import uuid

from actors.uploads import analyse_upload
from storage import uploads
from tests.storage.stored_uploads import stored_upload
from tests.web.form_pages import Page
from tests.web.leads import eventually

CSV = b"id,name,amount\n1,Ann,3.5\n2,Bob,\n"


def _analysed_upload(email: str) -> str:
    """An upload whose file is stored, analysed and sent to HubSpot by the embedded worker."""
    upload_id = stored_upload(CSV, "leads.csv", email)
    analyse_upload.send(upload_id)

    def synced() -> bool:
        row = asyncio.run(uploads.get_upload(upload_id))
        return row is not None and row.crm_status == "synced"

    eventually(synced, f"upload {upload_id} to reach HubSpot")
    return upload_id


def test_an_uploads_detail_shows_its_analysis_and_hubspot_calls(admin, sandbox) -> None:
    upload_id = _analysed_upload("ann@example.com")

    html = admin.get(f"/admin/uploads/{upload_id}").text

    page = Page(html)
    assert "completed" in page.text("upload-status") and "synced" in page.text("crm-status")
    assert page.text("quality-score").startswith("0.")
    assert "<td>log_activity</td>" in html, "the note on the contact's timeline"
    assert f">{sandbox.contacts()[0]['id']}<" in html


def test_the_uploads_list_filters_by_hubspot_update_and_searches_by_email(admin, sandbox):
    upload_id = _analysed_upload("ann@example.com")
    detail = f"/admin/uploads/{upload_id}"

    matching = admin.get("/admin/uploads?status=completed&crm_status=synced&q=Ann@").text
    other_email = admin.get("/admin/uploads?q=bob").text
    failed_only = admin.get("/admin/uploads?crm_status=failed").text

    assert detail in matching
    assert detail not in other_email and detail not in failed_only


def test_an_unknown_upload_is_a_404_page(admin) -> None:
    response = admin.get(f"/admin/uploads/{uuid.uuid4()}")

    assert response.status_code == 404 and "No such upload" in response.text
