"""The upload jobs: an analysis always settles, and HubSpot hears of each upload once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from actors.uploads import (
    MAX_ANALYSIS_ATTEMPTS,
    STORAGE_UNREADABLE,
    TOO_SLOW,
    UNEXPECTED,
    analyse_upload,
    record_upload_in_crm,
    upload_housekeeping,
)
from settings import get_settings
from storage import uploads
from storage.objects import object_key, object_store
from storage.uploads import Upload
from tests.faults import open_breaker
from tests.storage.stored_uploads import age_upload, stored_upload

EMAIL = "ann@example.com"
CSV = b"id,name,amount\n1,Ann,3.5\n2,Bob,\n"


def _row(upload_id: str) -> Upload:
    row = asyncio.run(uploads.get_upload(upload_id))
    assert row is not None
    return row


def _queued(queue: str) -> list[str]:
    from actors.broker import broker

    return [payload.decode() for payload in broker.client.hvals(f"dramatiq:{queue}.msgs")]


def test_an_analysed_upload_is_completed_and_queued_for_hubspot(db, sandbox) -> None:
    upload_id = stored_upload(CSV)

    analyse_upload(upload_id)

    row = _row(upload_id)
    assert (row.status, row.crm_status, row.file_type) == ("completed", "pending", "CSV")
    assert row.analysed_at is not None and row.quality_score == pytest.approx(0.9, abs=0.1)
    results = asyncio.run(uploads.get_results(upload_id))
    assert results["row_count"] == 2 and results["size_bytes"] == len(CSV)
    assert any(upload_id in payload for payload in _queued("crm"))


def test_a_file_that_is_not_what_it_claims_ends_failed_with_the_reason(db, sandbox) -> None:
    upload_id = stored_upload(b'{"a": 1}', filename="sample.csv")

    analyse_upload(upload_id)

    row = _row(upload_id)
    assert row.status == "failed" and "content is JSON" in row.message
    assert row.crm_status is None and not _queued("crm")


def test_a_file_missing_from_storage_ends_failed(db, sandbox) -> None:
    upload_id = stored_upload(CSV)
    object_store().delete(_row(upload_id).object_key)

    analyse_upload(upload_id)

    assert "did not receive your file" in _row(upload_id).message


def test_an_analysis_past_the_time_limit_ends_failed_saying_so(
    db, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "analysis_time_limit_s", 1e-9)  # past at once
    upload_id = stored_upload(CSV)

    analyse_upload(upload_id)

    row = _row(upload_id)
    assert row.status == "failed" and row.message.startswith("The analysis took longer than")
    assert not _queued("crm")


def test_an_unexpected_error_still_ends_failed_never_processing(
    db, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("actors.uploads.analyse", broken)
    upload_id = stored_upload(CSV)

    analyse_upload(upload_id)

    row = _row(upload_id)
    assert (row.status, row.message) == ("failed", UNEXPECTED)


def test_storage_that_cannot_be_read_ends_failed_once_retries_are_spent(
    db, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(key: str):
        raise OSError("the disk is gone")

    monkeypatch.setattr(object_store(), "open", unreadable)
    upload_id = stored_upload(CSV)

    analyse_upload(upload_id)  # called directly: no retries left to use

    assert (_row(upload_id).status, _row(upload_id).message) == ("failed", STORAGE_UNREADABLE)


def test_an_upload_whose_workers_keep_dying_is_given_up(db, sandbox) -> None:
    upload_id = stored_upload(CSV)
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    Upload.update(
        {
            Upload.status: "processing",
            Upload.lease_until: expired,
            Upload.attempts: MAX_ANALYSIS_ATTEMPTS,
        }
    ).where(Upload.id == uuid.UUID(upload_id)).run_sync()

    analyse_upload(upload_id)

    assert (_row(upload_id).status, _row(upload_id).message) == ("failed", TOO_SLOW)


def test_an_upload_held_by_a_live_worker_is_left_alone(db, sandbox) -> None:
    upload_id = stored_upload(CSV)
    asyncio.run(uploads.claim_for_analysis(upload_id, 600))

    analyse_upload(upload_id)

    assert _row(upload_id).status == "processing"


def _analysed(data: bytes = CSV, email: str = EMAIL) -> str:
    upload_id = stored_upload(data, email=email)
    analyse_upload(upload_id)
    assert _row(upload_id).status == "completed"
    return upload_id


def test_hubspot_learns_of_the_upload_on_the_contact_and_its_timeline(db, sandbox) -> None:
    upload_id = _analysed()

    record_upload_in_crm(upload_id)

    row = _row(upload_id)
    assert row.crm_status == "synced"
    [contact] = sandbox.contacts()
    assert row.hubspot_contact_id == contact["id"]
    properties = contact["properties"]
    assert properties["email"] == EMAIL
    assert properties["file_upload_count"] == "1"
    assert properties["last_file_type"] == "CSV"
    assert properties["sample_data_reference"] == upload_id
    assert properties["last_file_upload_date"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert float(properties["last_file_quality_score"]) == row.quality_score
    [note] = sandbox.notes()
    assert row.hubspot_activity_id == note["id"]
    body = note["properties"]["hs_note_body"]
    assert "Sample Data Upload" in body and "sample.csv" in body
    assert "CSV with 2 rows" in body and row.results_url in body.replace("&amp;", "&")


def test_running_the_update_again_calls_hubspot_no_more(db, sandbox) -> None:
    upload_id = _analysed()
    record_upload_in_crm(upload_id)
    calls = len(sandbox.request_log)

    record_upload_in_crm(upload_id)

    assert len(sandbox.request_log) == calls


def test_a_note_whose_answer_was_lost_is_found_not_sent_twice(
    db, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actors.services import hubspot_client
    from crm.errors import ErrorKind, HubSpotError

    client = hubspot_client()
    send = client.log_activity

    def answer_lost(*args, **kwargs):
        send(*args, **kwargs)
        raise HubSpotError(ErrorKind.TRANSIENT, "no answer from HubSpot", operation="log_activity")

    monkeypatch.setattr(client, "log_activity", answer_lost)
    upload_id = _analysed()
    with pytest.raises(Exception, match="no answer"):
        record_upload_in_crm(upload_id)
    assert _row(upload_id).crm_status == "pending"
    monkeypatch.setattr(client, "log_activity", send)
    record_upload_in_crm(upload_id)  # too soon: it waits for the unanswered write
    assert len(sandbox.notes()) == 1 and _row(upload_id).crm_status == "pending"

    # Time passes: the unanswered write has had its chance to land.
    import datetime as dt

    from storage.uploads import Upload

    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    Upload.update({Upload.activity_attempted_at: an_hour_ago}).where(
        Upload.id == upload_id
    ).run_sync()
    record_upload_in_crm(upload_id)

    [note] = sandbox.notes()
    row = _row(upload_id)
    assert (row.crm_status, row.hubspot_activity_id) == ("synced", note["id"])


def test_two_uploads_finishing_together_leave_the_true_count(
    db, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actors.services import hubspot_client

    client = hubspot_client()
    create = client.create_contact
    first = _analysed()
    second = stored_upload(b"id\n1\n2\n3\n")

    def second_finishes_meanwhile(properties):
        # The first update has read the count (1) and is about to write it when the second
        # upload completes and is recorded (count 2) before the first write lands.
        monkeypatch.setattr(client, "create_contact", create)
        analyse_upload(second)
        record_upload_in_crm(second)
        return create(properties)

    monkeypatch.setattr(client, "create_contact", second_finishes_meanwhile)

    record_upload_in_crm(first)

    [contact] = sandbox.contacts()
    assert contact["properties"]["file_upload_count"] == "2"
    assert contact["properties"]["sample_data_reference"] == second
    assert len(sandbox.notes()) == 2


def test_an_open_breaker_puts_the_update_back_without_calling(db, sandbox) -> None:

    upload_id = _analysed()
    open_breaker()
    calls = len(sandbox.request_log)

    record_upload_in_crm(upload_id)

    assert _row(upload_id).crm_status == "pending"
    assert len(sandbox.request_log) == calls


def test_housekeeping_requeues_lost_work_and_fails_abandoned_uploads(db, sandbox) -> None:
    lost = stored_upload(CSV)
    age_upload(lost)
    abandoned = str(uuid.uuid4())
    asyncio.run(
        uploads.create_upload(
            upload_id=uuid.UUID(abandoned),
            email=EMAIL,
            filename="never.csv",
            content_type="text/csv",
            declared_size=10,
            object_key=object_key(uuid.UUID(abandoned).hex),
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            results_url="http://127.0.0.1:8000/",
        )
    )

    counts = upload_housekeeping()

    assert counts["analyses"] == 1 and any(lost in p for p in _queued("uploads"))
    assert counts["abandoned"] == 1
    assert _row(abandoned).status == "failed" and "expired" in _row(abandoned).message


def test_retention_deletes_files_and_analyses_but_keeps_the_count(db, sandbox) -> None:
    old, recent = _analysed(), _analysed()
    age_upload(old, created_at=True)
    old_key = _row(old).object_key

    counts = upload_housekeeping()

    assert counts["purged"] == 1
    assert object_store().size(old_key) is None
    assert asyncio.run(uploads.get_results(old)) is None
    assert _row(old).filename == "" and _row(old).purged_at is not None
    assert asyncio.run(uploads.get_results(recent)) is not None
    snapshot = asyncio.run(uploads.contact_snapshot(EMAIL))
    assert snapshot["file_upload_count"] == "2"
