"""`storage.people`: everything held about one e-mail is found, exported and erased, and
nothing of anyone else, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import pytest

from storage import people
from storage.admin import Admin, AdminAction, record_action
from storage.drafts import Draft, save_draft
from storage.objects import object_key
from storage.people import PersonBusy
from storage.submissions import create_submission
from storage.tables import HubSpotCall, Submission
from storage.uploads import Upload, UploadAnalysis, create_upload

ANA = "ana_lopez@example.com"
#: Matches ANA if `_` were a LIKE wildcard: it must not.
LOOKALIKE = "anaxlopez@example.com"
BOB = "bob@example.com"


def _hold(email: str, contact_id: str, **submission_changes: Any) -> dict[str, Any]:
    """One person's rows of every kind, the way the product writes them; their ids."""
    submission_id = asyncio.run(
        create_submission(
            form_type="contact",
            email=email,
            raw_fields={"email": email, "firstName": email.split("@")[0]},
            contact_properties={"email": email},
            deal_properties={"dealname": "Deal"},
            summary={"E-mail": email},
        )
    )
    changes = {Submission.hubspot_contact_id: contact_id, Submission.status: "synced"}
    changes |= {getattr(Submission, name): value for name, value in submission_changes.items()}
    Submission.update(changes).where(Submission.id == submission_id).run_sync()
    upload_id = uuid.uuid4()
    asyncio.run(
        create_upload(
            upload_id=upload_id,
            email=email,
            filename=f"{email}.csv",
            content_type="text/csv",
            declared_size=10,
            object_key=object_key(upload_id.hex),
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
            results_url=f"http://127.0.0.1:8000/uploads/{upload_id}?token=t",
        )
    )
    activity_id = f"9{contact_id}"
    Upload.update({Upload.status: "completed", Upload.hubspot_activity_id: activity_id}).where(
        Upload.id == upload_id
    ).run_sync()
    UploadAnalysis(id=upload_id, results={"row_count": 2, "owner": email}).save().run_sync()
    draft_id = asyncio.run(
        save_draft(
            form_type="contact", fields={"email": f" {email.upper()} "}, step="company", ttl_s=60
        )
    )
    HubSpotCall.insert(
        _call(object_id=contact_id, submission_id=submission_id),
        _call(operation="log_activity", object_id=activity_id, submission_id=upload_id),
        _call(
            status=400,
            outcome="permanent",
            error="Email [e-mail] is invalid",
            submission_id=submission_id,
        ),
    ).run_sync()
    return {"submission": submission_id, "upload": upload_id, "draft": draft_id}


def _call(**fields: Any) -> HubSpotCall:
    """A call-log row as the client writes one (a successful contact create unless told)."""
    return HubSpotCall(
        **{"operation": "create_contact", "status": 201, "outcome": "ok", "duration_ms": 1} | fields
    )


def _count(table: Any) -> int:
    return table.count().run_sync()


@pytest.fixture
def two_people(any_db: str) -> dict[str, dict[str, Any]]:
    return {ANA: _hold(ANA, "101"), BOB: _hold(BOB, "7702")}


def test_find_gathers_every_row_of_a_person_whatever_the_case(two_people) -> None:
    person = asyncio.run(people.find("  Ana_Lopez@EXAMPLE.com "))

    assert person.email == ANA
    assert person.counts == {
        "submissions": 1,
        "uploads": 1,
        "analyses": 1,
        "drafts": 1,
        "hubspot_calls": 3,
    }
    assert person.hubspot_ids == {"contacts": ["101"], "deals": [], "activities": ["9101"]}
    assert person.submissions[0]["id"] == two_people[ANA]["submission"]
    assert person.drafts[0]["id"] == two_people[ANA]["draft"]


def test_an_underscore_in_the_address_matches_only_itself(any_db) -> None:
    _hold(LOOKALIKE, "303")

    person = asyncio.run(people.find(ANA))

    assert not person.held


def test_the_export_is_plain_json_of_the_person_and_nobody_else(two_people) -> None:
    exported = asyncio.run(people.find(ANA)).export()

    text = json.dumps(exported)  # raises if anything is not JSON-serialisable
    assert BOB not in text and "7702" not in text
    [submission] = exported["submissions"]
    assert submission["raw_fields"] == {"email": ANA, "firstName": "ana_lopez"}
    assert submission["id"] == str(two_people[ANA]["submission"])
    assert dt.datetime.fromisoformat(submission["created_at"]).tzinfo is not None
    [upload] = exported["uploads"]
    assert upload["filename"] == f"{ANA}.csv"
    assert upload["analysis"] == {"row_count": 2, "owner": ANA}
    assert exported["drafts"][0]["fields"] == {"email": f" {ANA.upper()} "}
    assert len(exported["hubspot_calls"]) == 3
    assert exported["hubspot_ids"] == {"contacts": ["101"], "deals": [], "activities": ["9101"]}


def test_erase_deletes_every_row_of_the_person_and_names_the_files(two_people) -> None:
    async def erase() -> people.Erased:
        async with people.erase(ANA.upper()) as erased:
            return erased

    erased = asyncio.run(erase())

    assert erased.counts == {
        "submissions": 1,
        "uploads": 1,
        "analyses": 1,
        "drafts": 1,
        "hubspot_calls": 3,
    }
    assert erased.object_keys == [object_key(two_people[ANA]["upload"].hex)]
    assert erased.hubspot_ids == {"contacts": ["101"], "deals": [], "activities": ["9101"]}
    assert not asyncio.run(people.find(ANA)).held
    bob = asyncio.run(people.find(BOB))
    assert bob.counts == {
        "submissions": 1,
        "uploads": 1,
        "analyses": 1,
        "drafts": 1,
        "hubspot_calls": 3,
    }
    assert (_count(Submission), _count(Upload), _count(Draft)) == (1, 1, 1)
    # Ana's calls stay counted for the dashboard, with nothing left that leads to her.
    assert _count(HubSpotCall) == 6
    anonymous = HubSpotCall.submission_id.is_null() & HubSpotCall.object_id.is_null()
    assert HubSpotCall.count().where(anonymous & HubSpotCall.error.is_null()).run_sync() == 3


def _erase_rows(email: str) -> None:
    async def erase() -> None:
        async with people.erase(email):
            pass

    asyncio.run(erase())


def _in(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("table", "changes"),
    [
        (Submission, {"status": "syncing", "lease_until": _in(5)}),
        (Upload, {"status": "processing", "lease_until": _in(5)}),
        (Upload, {"crm_status": "syncing", "crm_lease_until": _in(5)}),
        (Upload, {"status": "pending", "expires_at": _in(5)}),
    ],
    ids=["sync", "analysis", "upload-crm-update", "open-upload-url"],
)
def test_a_row_held_by_a_worker_or_an_open_upload_refuses_the_erasure(
    two_people, table, changes
) -> None:
    key = "submission" if table is Submission else "upload"
    values = {getattr(table, name): value for name, value in changes.items()}
    table.update(values).where(table.id == two_people[ANA][key]).run_sync()

    with pytest.raises(PersonBusy, match="Nothing was deleted"):
        _erase_rows(ANA)

    assert asyncio.run(people.find(ANA)).counts["submissions"] == 1
    assert (_count(Upload), _count(UploadAnalysis), _count(Draft)) == (2, 2, 2)


def test_a_lease_that_ran_out_does_not_hold_the_erasure(any_db) -> None:
    _hold(ANA, "101", status="syncing", lease_until=_in(-1))

    _erase_rows(ANA)

    assert not asyncio.run(people.find(ANA)).held


def test_a_failure_inside_the_block_deletes_nothing(two_people) -> None:
    async def erase_then_fail() -> None:
        async with people.erase(ANA):
            raise RuntimeError("the files could not be deleted")

    with pytest.raises(RuntimeError):
        asyncio.run(erase_then_fail())

    assert asyncio.run(people.find(ANA)).counts == asyncio.run(people.find(BOB)).counts


def test_the_trail_of_a_person_is_the_actions_on_their_hash(any_db) -> None:
    admin = Admin(1, "ops")
    hashed = people.email_hash(" Ana_Lopez@Example.com")
    asyncio.run(record_action(admin, "export_person", hashed))
    asyncio.run(record_action(admin, "erase_person", hashed, {"deleted": {}}))
    asyncio.run(record_action(admin, "export_person", people.email_hash(BOB)))

    trail = asyncio.run(people.trail(hashed))

    assert hashed == people.email_hash(ANA) and len(hashed) == 64
    assert [row["action"] for row in trail] == ["export_person", "erase_person"]
    assert trail[1]["detail"] == {"deleted": {}}
    assert _count(AdminAction) == 3
