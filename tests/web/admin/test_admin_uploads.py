"""The uploads pages: the list filters and searches, and an upload's detail shows its
analysis and the HubSpot calls of its contact update."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from actors.uploads import analyse_upload
from settings import get_settings
from storage import uploads
from storage.objects import object_key
from tests.web.admin.dashboard import eventually
from tests.web.form_pages import Page

CSV = b"id,name,amount\n1,Ann,3.5\n2,Bob,\n"


def _analysed_upload(email: str) -> str:
    """An upload whose file is stored, analysed and sent to HubSpot by the embedded worker."""
    upload_id = uuid.uuid4()
    key = object_key(upload_id.hex)
    path = get_settings().upload_path / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CSV)
    asyncio.run(
        uploads.create_upload(
            upload_id=upload_id,
            email=email,
            filename="leads.csv",
            content_type="text/csv",
            declared_size=len(CSV),
            object_key=key,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
            results_url=f"http://127.0.0.1:8000/uploads/{upload_id}?token=t",
        )
    )
    asyncio.run(uploads.mark_uploaded(upload_id, len(CSV)))
    analyse_upload.send(str(upload_id))

    def synced() -> bool:
        row = asyncio.run(uploads.get_upload(upload_id))
        return row is not None and row.crm_status == "synced"

    eventually(synced, f"upload {upload_id} to reach HubSpot")
    return str(upload_id)


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
