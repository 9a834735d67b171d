"""The dashboard's lists on SQLite and PostgreSQL: filters, e-mail prefix search, keyset
pages in both directions, and the detail of one row with its HubSpot calls."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from storage import listing
from storage.admin import Admin, record_action
from storage.tables import HubSpotCall, Submission
from storage.uploads import Upload, create_upload

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def _submission(n: int, *, email: str = "", status: str = "pending", form: str = "contact"):
    """Submission number `n`, received `n` minutes after START (so newest = highest n)."""
    submission_id = uuid.uuid4()
    Submission.insert(
        Submission(
            id=submission_id,
            form_type=form,
            status=status,
            email=email or f"person{n}@example.com",
            raw_fields={"email": email},
            contact_properties={"email": email},
            deal_properties={},
            summary={},
            created_at=START + dt.timedelta(minutes=n),
        )
    ).run_sync()
    return submission_id


def _emails(page: listing.Page) -> list[str]:
    return [row["email"] for row in page.rows]


def test_submissions_are_filtered_by_status_and_form_newest_first(any_db: str) -> None:
    _submission(1, status="failed", form="contact")
    _submission(2, status="synced", form="contact")
    _submission(3, status="failed", form="quote_request")
    _submission(4, status="failed", form="contact")

    failed = asyncio.run(listing.list_submissions(status="failed"))
    failed_contacts = asyncio.run(listing.list_submissions(status="failed", form_type="contact"))

    assert _emails(failed) == ["person4@example.com", "person3@example.com", "person1@example.com"]
    assert _emails(failed_contacts) == ["person4@example.com", "person1@example.com"]
    assert failed.newer is None and failed.older is None


def test_the_email_search_matches_a_prefix_lower_cased_and_nothing_inside(any_db: str) -> None:
    _submission(1, email="ann.lee@example.com")
    _submission(2, email="ann_lee@example.com")
    _submission(3, email="joann@example.com")
    _submission(4, email="annxlee@example.com")

    def search(text: str) -> list[str]:
        return _emails(asyncio.run(listing.list_submissions(email=text)))

    assert search(" ANN ") == ["annxlee@example.com", "ann_lee@example.com", "ann.lee@example.com"]
    # `_` and `%` are literal characters here, not LIKE wildcards.
    assert search("ann_") == ["ann_lee@example.com"]
    assert search("%lee") == []
    assert search("ann.lee@example.com") == ["ann.lee@example.com"]


def test_pages_walk_older_and_back_newer_without_gaps_or_repeats(any_db: str) -> None:
    total = listing.PAGE_SIZE * 2 + 5
    for n in range(total):
        _submission(n)
    # Two rows received in the same microsecond: the id breaks the tie.
    _submission(total, email="tie-a@example.com")
    tie = Submission.select(Submission.created_at).where(Submission.email == "tie-a@example.com")
    same_moment = tie.first().run_sync()["created_at"]
    Submission.update({Submission.created_at: same_moment}).where(
        Submission.email == f"person{total - 1}@example.com"
    ).run_sync()

    first = asyncio.run(listing.list_submissions())
    second = asyncio.run(listing.list_submissions(before=first.older))
    third = asyncio.run(listing.list_submissions(before=second.older))
    back = asyncio.run(listing.list_submissions(after=second.newer))

    seen = _emails(first) + _emails(second) + _emails(third)
    assert len(seen) == total + 1 == len(set(seen))
    assert first.newer is None and third.older is None and len(third.rows) == 6
    assert _emails(back) == _emails(first)
    assert back.newer is None and back.older == first.older


def test_a_malformed_cursor_shows_the_newest_page(any_db: str) -> None:
    _submission(1)

    for cursor in ("nonsense", "12_not-a-uuid", "99999999999999999999999_" + str(uuid.uuid4())):
        page = asyncio.run(listing.list_submissions(before=cursor))
        assert _emails(page) == ["person1@example.com"]


def test_uploads_are_filtered_by_status_hubspot_update_and_email(any_db: str) -> None:
    ids = [_upload("ann@example.com", 1), _upload("bob@example.com", 2)]
    ids.append(_upload("ann@example.org", 3))
    Upload.update({Upload.status: "completed", Upload.crm_status: "failed"}).where(
        Upload.id == ids[2]
    ).run_sync()

    by_email = asyncio.run(listing.list_uploads(email="ann@"))
    crm_failed = asyncio.run(listing.list_uploads(crm_status="failed"))
    completed = asyncio.run(listing.list_uploads(status="completed", email="bob"))

    assert [row["id"] for row in by_email.rows] == [ids[2], ids[0]]
    assert [row["id"] for row in crm_failed.rows] == [ids[2]]
    assert completed.rows == []


def test_a_submission_detail_has_its_calls_in_order_and_uploads_of_its_email(any_db) -> None:
    submission_id = _submission(1, email="ann@example.com")
    other_id = _submission(2, email="ann@example.com.au")
    upload_id = _upload("ann@example.com", 1)
    _upload("ann@example.com.au", 2)
    for n, operation in enumerate(("create_contact", "upsert_deal")):
        HubSpotCall.insert(
            HubSpotCall(
                at=START + dt.timedelta(seconds=n),
                operation=operation,
                status=400 if n else 201,
                outcome="permanent" if n else "ok",
                duration_ms=12.5,
                submission_id=submission_id,
                error="HTTP 400: Property does not exist" if n else None,
            ),
            HubSpotCall(operation="create_contact", status=201, outcome="ok", duration_ms=1.0),
        ).run_sync()
    HubSpotCall.insert(
        HubSpotCall(operation="x", status=201, outcome="ok", duration_ms=1, submission_id=other_id)
    ).run_sync()

    detail = asyncio.run(listing.submission_detail(submission_id))

    assert detail is not None and detail.submission.email == "ann@example.com"
    assert [call["operation"] for call in detail.calls] == ["create_contact", "upsert_deal"]
    assert detail.calls[1]["error"] == "HTTP 400: Property does not exist"
    assert [row["id"] for row in detail.uploads] == [upload_id]
    assert asyncio.run(listing.submission_detail(uuid.uuid4())) is None


def test_admin_actions_page_newest_first(any_db: str) -> None:
    admin = Admin(1, "ops")
    for n in range(listing.PAGE_SIZE + 3):
        asyncio.run(record_action(admin, "retry_submission", f"target-{n}", {"n": n}))

    first = asyncio.run(listing.list_admin_actions())
    second = asyncio.run(listing.list_admin_actions(before=first.older))

    assert first.rows[0]["target"] == f"target-{listing.PAGE_SIZE + 2}"
    assert first.rows[0]["detail"] == {"n": listing.PAGE_SIZE + 2}
    assert [row["target"] for row in second.rows] == ["target-2", "target-1", "target-0"]
    assert second.older is None


def _upload(email: str, n: int) -> uuid.UUID:
    """An upload started `n` minutes after START."""
    upload_id = uuid.uuid4()
    asyncio.run(
        create_upload(
            upload_id=upload_id,
            email=email,
            filename="sample.csv",
            content_type="text/csv",
            declared_size=10,
            object_key=f"uploads/{upload_id.hex}",
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
            results_url="http://127.0.0.1:8000/uploads/x",
        )
    )
    started = START + dt.timedelta(minutes=n)
    Upload.update({Upload.created_at: started}).where(Upload.id == upload_id).run_sync()
    return upload_id
