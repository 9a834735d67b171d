"""Erasing a person: everything here at once or nothing, then HubSpot's side (the notes and
deals made for them archived, the contact GDPR-deleted), retried until HubSpot answers,
recorded under the e-mail's hash and never logged with the e-mail."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from typing import Any

import dramatiq
import pytest

from actors.erasure import (
    ERASE,
    HUBSPOT_OUTCOME,
    QUEUE_DOWN,
    STORAGE_DOWN,
    ErasureFailed,
    erase_from_hubspot,
    erase_person,
)
from actors.sync import sync_submission
from crm.errors import ErrorKind, HubSpotError
from crm.sandbox.faults import Fault
from settings import get_settings
from storage import people
from storage.admin import Admin, AdminAction
from storage.objects import object_key, object_store
from storage.tables import Submission
from storage.uploads import create_upload
from tests.faults import on_first, open_breaker
from web.submit import accept_submission

EMAIL = "erin.doe@example.com"
OTHER = "olga@example.com"
ADMIN = Admin(7, "ops")
#: The outcome's counts when the message names no note or deal.
NOTHING_ARCHIVED = {"notes_archived": 0, "deals_archived": 0}


def _contact(email: str) -> str:
    from actors.services import hubspot_client

    return hubspot_client().create_contact({"email": email}).id


def _contact_emails(sandbox) -> set[str]:
    return {contact["properties"]["email"] for contact in sandbox.contacts()}


def _outcomes() -> list[dict[str, Any]]:
    query = AdminAction.select().where(AdminAction.action == HUBSPOT_OUTCOME)
    return query.order_by(AdminAction.id).output(load_json=True).run_sync()


def _queued() -> list[dramatiq.Message]:
    from actors.broker import broker

    payloads = [
        *broker.client.hvals("dramatiq:crm.msgs"),
        *broker.client.hvals("dramatiq:crm.DQ.msgs"),
    ]
    return [dramatiq.Message.decode(payload) for payload in payloads]


def _run_queued() -> None:
    """Run the one queued HubSpot deletion, as a worker would."""
    [message] = [m for m in _queued() if m.actor_name == "erase_from_hubspot"]
    from actors.broker import broker

    broker.client.delete("dramatiq:crm.msgs", "dramatiq:crm.DQ.msgs")
    erase_from_hubspot(*message.args, **message.kwargs)


def test_the_contact_is_gdpr_deleted_and_the_outcome_recorded_by_hash(db, sandbox) -> None:
    _contact(EMAIL)
    _contact(OTHER)

    erase_from_hubspot(EMAIL.upper(), ADMIN.user_id, ADMIN.username)

    assert _contact_emails(sandbox) == {OTHER}
    [outcome] = _outcomes()
    assert outcome["target"] == people.email_hash(EMAIL) and outcome["username"] == "ops"
    assert outcome["detail"] == {"hubspot": "deleted", "attempts": 1} | NOTHING_ARCHIVED


def test_a_failing_hubspot_is_asked_again_until_it_deletes_the_contact(
    db, sandbox, faults, caplog
) -> None:
    caplog.set_level(logging.INFO)
    _contact(EMAIL)
    faults.configure(error_rate=1, error_statuses=[503])

    erase_from_hubspot(EMAIL, ADMIN.user_id, ADMIN.username)

    assert _contact_emails(sandbox) == {EMAIL} and _outcomes() == []
    [retry] = _queued()
    assert retry.args[-1] == 1 and retry.options["eta"] > 0, "sent again with a delay"
    assert "retrying" in caplog.text and EMAIL not in caplog.text

    faults.clear()
    _run_queued()

    assert _contact_emails(sandbox) == set()
    assert _outcomes()[0]["detail"] == {"hubspot": "deleted", "attempts": 2} | NOTHING_ARCHIVED
    assert EMAIL not in caplog.text


def test_when_the_retries_run_out_the_failure_is_recorded_without_the_email(
    db, sandbox, monkeypatch
) -> None:
    from actors.services import hubspot_client

    def down(email: str) -> None:
        raise HubSpotError(
            ErrorKind.TRANSIENT, f"{email} could not be deleted", status=503, operation="gdpr"
        )

    monkeypatch.setattr(hubspot_client(), "gdpr_delete_contact", down)
    last = get_settings().hubspot_max_retries

    erase_from_hubspot(EMAIL, ADMIN.user_id, ADMIN.username, last)

    [outcome] = _outcomes()
    assert outcome["detail"]["hubspot"] == "failed" and outcome["detail"]["attempts"] == last + 1
    assert outcome["detail"]["error"] == "gdpr: [e-mail] could not be deleted (HTTP 503)"
    assert _queued() == []


def test_a_contact_hubspot_does_not_know_counts_as_gone(db, sandbox, faults) -> None:
    faults.configure(error_rate=1, error_statuses=[404])

    erase_from_hubspot(EMAIL, ADMIN.user_id, ADMIN.username)

    assert _outcomes()[0]["detail"] == {"hubspot": "not_found", "attempts": 1} | NOTHING_ARCHIVED
    assert _queued() == []


def test_while_the_breaker_is_open_the_deletion_waits_without_using_an_attempt(db, sandbox) -> None:

    _contact(EMAIL)
    open_breaker()

    erase_from_hubspot(EMAIL, ADMIN.user_id, ADMIN.username)

    [waiting] = _queued()
    assert waiting.args[-1] == 0 and _contact_emails(sandbox) == {EMAIL}


# Everything held here


def _stored_upload(email: str) -> str:
    """An upload of `email` whose file is in the local store; its object key."""
    upload_id = uuid.uuid4()
    key = object_key(upload_id.hex)
    path = get_settings().upload_path / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"id,name\n1,Erin\n")
    asyncio.run(
        create_upload(
            upload_id=upload_id,
            email=email,
            filename="sample.csv",
            content_type="text/csv",
            declared_size=15,
            object_key=key,
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
            results_url="http://127.0.0.1:8000/uploads/x?token=t",
        )
    )
    return key


def _submit(email: str) -> None:
    form = {"email": email, "firstName": "Erin", "lastName": "Doe", "company": "Acme"}
    form |= {"country": "DE", "serviceInterests": ["Data Collection"]}
    assert asyncio.run(accept_submission("contact", form)).ok


@pytest.fixture
def two_people(any_db, sandbox) -> dict[str, str]:
    """Both people submitted a form and uploaded a file; their object keys."""
    _submit(EMAIL)
    _submit(OTHER)
    return {EMAIL: _stored_upload(EMAIL), OTHER: _stored_upload(OTHER)}


def test_erasing_deletes_rows_and_files_records_it_by_hash_and_queues_hubspot(
    two_people,
) -> None:
    erased = asyncio.run(erase_person(EMAIL, ADMIN))

    assert erased.counts["submissions"] == 1 and erased.counts["uploads"] == 1
    assert not asyncio.run(people.find(EMAIL)).held
    assert object_store().size(two_people[EMAIL]) is None
    assert object_store().size(two_people[OTHER]) is not None
    assert asyncio.run(people.find(OTHER)).counts["submissions"] == 1
    [record] = AdminAction.select().where(AdminAction.action == ERASE).run_sync()
    assert record["target"] == people.email_hash(EMAIL)
    detail = json.loads(record["detail"])
    assert detail["deleted"] == erased.counts and detail["files_deleted"] == 1
    assert detail["hubspot"] == "queued" and EMAIL not in json.dumps(record, default=str)
    [job] = [m for m in _queued() if m.actor_name == "erase_from_hubspot"]
    assert job.args[:3] == (EMAIL, 7, "ops")
    assert job.kwargs == {"note_ids": [], "deal_ids": []}, "nothing of theirs reached HubSpot"


def test_storage_that_fails_leaves_every_row_in_place(two_people, monkeypatch) -> None:
    def unavailable(key: str) -> None:
        raise OSError("the disk is gone")

    monkeypatch.setattr(object_store(), "delete", unavailable)

    with pytest.raises(ErasureFailed, match=STORAGE_DOWN):
        asyncio.run(erase_person(EMAIL, ADMIN))

    assert asyncio.run(people.find(EMAIL)).counts["uploads"] == 1
    assert AdminAction.count().run_sync() == 0


def test_a_queue_that_fails_leaves_every_row_in_place(two_people, monkeypatch) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(erase_from_hubspot, "send", unavailable)

    with pytest.raises(ErasureFailed, match=QUEUE_DOWN):
        asyncio.run(erase_person(EMAIL, ADMIN))

    assert asyncio.run(people.find(EMAIL)).counts["submissions"] == 1
    assert AdminAction.count().run_sync() == 0


# HubSpot's side: the notes and deals made for the person go too


def _synced(email: str) -> dict[str, str]:
    """A form of `email` synced to HubSpot as a worker would; its submission and object ids."""
    form = {"email": email, "firstName": "Erin", "lastName": "Doe", "company": "Acme"}
    form |= {"country": "DE", "serviceInterests": ["Data Collection"]}
    accepted = asyncio.run(accept_submission("contact", form))
    sync_submission(str(accepted.submission_id))
    from actors.broker import broker

    broker.client.delete("dramatiq:crm.msgs", "dramatiq:crm.DQ.msgs")
    [row] = Submission.select().where(Submission.id == accepted.submission_id).run_sync()
    assert row["status"] == "synced"
    return {
        "submission": str(row["id"]),
        "deal": row["hubspot_deal_id"],
        "note": row["hubspot_activity_id"],
    }


def _left_in_hubspot(sandbox, forms: list[dict[str, str]]) -> list[str]:
    """What HubSpot still shows of `forms`: the live (unarchived) deal holding each one's
    `submission_id`, and each one's note."""
    deals = {d["properties"]["submission_id"] for d in sandbox.deals() if not d["archived"]}
    notes = {n["id"] for n in sandbox.notes() if not n["archived"]}
    return [f"deal of {form['submission']}" for form in forms if form["submission"] in deals] + [
        f"note {form['note']}" for form in forms if form["note"] in notes
    ]


@pytest.fixture
def synced(db, sandbox) -> dict[str, list[dict[str, str]]]:
    """Erin sent two forms and Olga one between them, all synced: a deal and a note each."""
    erins_first, olgas = _synced(EMAIL), _synced(OTHER)
    forms = {EMAIL: [erins_first, _synced(EMAIL)], OTHER: [olgas]}
    assert len(_left_in_hubspot(sandbox, [*forms[EMAIL], *forms[OTHER]])) == 6
    return forms


def test_erasing_archives_the_persons_notes_and_deals_then_deletes_the_contact(
    synced, sandbox
) -> None:
    asyncio.run(erase_person(EMAIL, ADMIN))
    _run_queued()

    assert _contact_emails(sandbox) == {OTHER}
    assert _left_in_hubspot(sandbox, synced[EMAIL]) == []
    assert len(_left_in_hubspot(sandbox, synced[OTHER])) == 2, "Olga's deal and note stay"
    [outcome] = _outcomes()
    assert outcome["detail"] == {
        "hubspot": "deleted",
        "attempts": 1,
        "notes_archived": 2,
        "deals_archived": 2,
    }
    # Notes, then deals, then the contact: until the end all hangs on a contact.
    asked = [(method, path.split("/")[4]) for method, path, *_ in sandbox.request_log[-5:]]
    assert asked == [("DELETE", "notes")] * 2 + [("DELETE", "deals")] * 2 + [("POST", "contacts")]


@pytest.mark.parametrize(
    ("status", "next_attempt"), [(503, 1), (429, 0)], ids=["server-error", "rate-limited"]
)
def test_a_job_that_fails_midway_is_sent_again_and_finishes_everything(
    synced, sandbox, faults, monkeypatch, status, next_attempt
) -> None:
    asyncio.run(erase_person(EMAIL, ADMIN))
    monkeypatch.setattr(faults, "fault_for", on_first("DELETE", "/deals/", Fault(status=status)))

    _run_queued()

    # The notes went, the deals did not, and the contact waits for them.
    assert _left_in_hubspot(sandbox, synced[EMAIL]) == [
        f"deal of {form['submission']}" for form in synced[EMAIL]
    ]
    assert _contact_emails(sandbox) == {EMAIL, OTHER} and _outcomes() == []
    [again] = _queued()
    assert again.args[-1] == next_attempt, "a 429 waits without using up an attempt"
    assert again.kwargs["deal_ids"] == sorted(form["deal"] for form in synced[EMAIL])
    assert again.options["eta"] > 0, "sent again with a delay"

    _run_queued()

    assert _contact_emails(sandbox) == {OTHER}
    assert _left_in_hubspot(sandbox, synced[EMAIL]) == []
    assert len(_left_in_hubspot(sandbox, synced[OTHER])) == 2
    assert _outcomes()[0]["detail"] == {
        "hubspot": "deleted",
        "attempts": next_attempt + 1,
        "notes_archived": 2,
        "deals_archived": 2,
    }


def test_asking_again_after_a_failure_archives_what_the_first_erasure_recorded(
    synced, sandbox, faults
) -> None:
    faults.configure(error_rate=1, error_statuses=[400])
    asyncio.run(erase_person(EMAIL, ADMIN))
    _run_queued()
    assert _outcomes()[0]["detail"]["hubspot"] == "failed"
    assert len(_left_in_hubspot(sandbox, synced[EMAIL])) == 4
    faults.clear()

    # Nothing of Erin is held here any more: the ids come from the first erasure's record.
    erased = asyncio.run(erase_person(EMAIL, ADMIN))
    _run_queued()

    assert erased.hubspot_ids == {"contacts": [], "deals": [], "activities": []}
    assert _contact_emails(sandbox) == {OTHER}
    assert _left_in_hubspot(sandbox, synced[EMAIL]) == []
    assert len(_left_in_hubspot(sandbox, synced[OTHER])) == 2
    assert _outcomes()[-1]["detail"]["hubspot"] == "deleted"


def test_timeline_event_ids_are_not_sent_as_notes(synced) -> None:
    """Custom timeline events (HUBSPOT_APP_ID) carry our own ids and cannot be deleted."""
    first, second = synced[EMAIL]
    Submission.update({Submission.hubspot_activity_id: "submission-1"}).where(
        Submission.id == first["submission"]
    ).run_sync()

    asyncio.run(erase_person(EMAIL, ADMIN))

    [job] = [m for m in _queued() if m.actor_name == "erase_from_hubspot"]
    assert job.kwargs["note_ids"] == [second["note"]]
    assert job.kwargs["deal_ids"] == sorted([first["deal"], second["deal"]])
