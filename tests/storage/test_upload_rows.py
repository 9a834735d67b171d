"""Upload rows on both databases: claims with leases, the settled states, the derived
contact snapshot, and what retention leaves behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from storage import uploads
from storage.uploads import Upload

EMAIL = "lee@example.com"
RESULTS = {"file_type": "CSV", "quality_score": 0.87, "row_count": 3}


def _create(email: str = EMAIL) -> uuid.UUID:
    upload_id = uuid.uuid4()
    asyncio.run(
        uploads.create_upload(
            upload_id=upload_id,
            email=email,
            filename="x" * 255,
            content_type="text/csv",
            declared_size=10,
            object_key=f"uploads/{upload_id.hex}",
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
            results_url="http://127.0.0.1:8000/uploads/x?token=y",
        )
    )
    return upload_id


def _completed(email: str = EMAIL, score: float = 0.87) -> uuid.UUID:
    upload_id = _create(email)
    assert asyncio.run(uploads.mark_uploaded(upload_id, 10))
    assert asyncio.run(uploads.claim_for_analysis(upload_id, 60)) is not None
    assert asyncio.run(uploads.complete_analysis(upload_id, RESULTS | {"quality_score": score}))
    return upload_id


def test_an_upload_moves_forward_once_through_its_states(any_db) -> None:
    upload_id = _create()

    assert asyncio.run(uploads.mark_uploaded(upload_id, 10))
    assert not asyncio.run(uploads.mark_uploaded(upload_id, 10))
    claimed = asyncio.run(uploads.claim_for_analysis(upload_id, 60))
    assert claimed is not None and claimed.attempts == 1
    assert asyncio.run(uploads.claim_for_analysis(upload_id, 60)) is None
    assert asyncio.run(uploads.complete_analysis(upload_id, RESULTS))
    assert not asyncio.run(uploads.fail_upload(upload_id, "too late"))

    row = asyncio.run(uploads.get_upload(upload_id))
    assert (row.status, row.crm_status, row.file_type) == ("completed", "pending", "CSV")
    assert asyncio.run(uploads.get_results(upload_id)) == RESULTS


def test_a_lease_that_ran_out_can_be_claimed_again(any_db) -> None:
    upload_id = _create()
    asyncio.run(uploads.mark_uploaded(upload_id, 10))
    asyncio.run(uploads.claim_for_analysis(upload_id, -1))

    again = asyncio.run(uploads.claim_for_analysis(upload_id, 60))

    assert again is not None and again.attempts == 2
    assert asyncio.run(uploads.stale_analysis_ids(0)) == []


def test_the_snapshot_counts_completed_uploads_and_names_the_latest(any_db) -> None:
    _completed(score=0.5)
    latest = _completed(score=0.91)
    _create()  # not analysed: not counted
    _completed(email="other@example.com")

    snapshot = asyncio.run(uploads.contact_snapshot(EMAIL))

    assert snapshot == {
        "file_upload_count": "2",
        "last_file_upload_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "last_file_type": "CSV",
        "last_file_quality_score": "0.91",
        "sample_data_reference": str(latest),
    }


def test_a_crm_claim_is_held_by_one_worker_at_a_time(any_db) -> None:
    upload_id = _completed()

    assert asyncio.run(uploads.claim_for_crm(upload_id, 60)) is not None
    assert asyncio.run(uploads.claim_for_crm(upload_id, 60)) is None
    asyncio.run(uploads.release_crm(upload_id, "pending", "HTTP 503", "abc", retry_in_s=30))

    row = asyncio.run(uploads.get_upload(upload_id))
    assert (row.crm_status, row.crm_error, row.crm_attempts) == ("pending", "HTTP 503", 1)
    assert row.crm_next_attempt_at > dt.datetime.now(dt.UTC)


def test_purged_uploads_lose_file_name_and_analysis_but_still_count(any_db) -> None:
    upload_id = _completed()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    Upload.update({Upload.created_at: old}).where(Upload.id == upload_id).run_sync()

    [(purgeable_id, key)] = asyncio.run(uploads.purgeable(dt.datetime.now(dt.UTC)))
    asyncio.run(uploads.mark_purged(purgeable_id))

    assert key == f"uploads/{upload_id.hex}"
    assert asyncio.run(uploads.get_results(upload_id)) is None
    assert asyncio.run(uploads.get_upload(upload_id)).filename == ""
    assert asyncio.run(uploads.purgeable(dt.datetime.now(dt.UTC))) == []
    assert asyncio.run(uploads.contact_snapshot(EMAIL))["file_upload_count"] == "1"
