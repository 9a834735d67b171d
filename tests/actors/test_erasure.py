"""Erasing a person: everything here at once or nothing, then HubSpot's GDPR delete, retried
until HubSpot answers, recorded under the e-mail's hash and never logged with the e-mail."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
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
from crm.errors import ErrorKind, HubSpotError
from crm.sandbox.faults import FaultPlan
from settings import get_settings
from storage import people
from storage.admin import Admin, AdminAction
from storage.objects import object_key, object_store
from storage.uploads import create_upload
from web.submit import accept_submission

EMAIL = "erin.doe@example.com"
OTHER = "olga@example.com"
ADMIN = Admin(7, "ops")


@pytest.fixture
def faults(sandbox, sandbox_server) -> Iterator[FaultPlan]:
    plan: FaultPlan = sandbox_server.app.state.faults
    yield plan
    plan.clear()


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
    erase_from_hubspot(*message.args)


def test_the_contact_is_gdpr_deleted_and_the_outcome_recorded_by_hash(db, sandbox) -> None:
    _contact(EMAIL)
    _contact(OTHER)

    erase_from_hubspot(EMAIL.upper(), ADMIN.user_id, ADMIN.username)

    assert _contact_emails(sandbox) == {OTHER}
    [outcome] = _outcomes()
    assert outcome["target"] == people.email_hash(EMAIL) and outcome["username"] == "ops"
    assert outcome["detail"] == {"hubspot": "deleted", "attempts": 1}


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
    assert _outcomes()[0]["detail"] == {"hubspot": "deleted", "attempts": 2}
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

    assert _outcomes()[0]["detail"] == {"hubspot": "not_found", "attempts": 1}
    assert _queued() == []


def test_while_the_breaker_is_open_the_deletion_waits_without_using_an_attempt(db, sandbox) -> None:
    from actors.services import circuit_breaker

    _contact(EMAIL)
    for _ in range(get_settings().hubspot_cb_threshold):
        circuit_breaker().record_failure()

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
    assert [m.args[:3] for m in _queued() if m.actor_name == "erase_from_hubspot"] == [
        (EMAIL, 7, "ops")
    ]


def test_storage_that_fails_leaves_every_row_in_place(two_people, monkeypatch) -> None:
    def unavailable(key: str) -> None:
        raise OSError("the disk is gone")

    monkeypatch.setattr(object_store(), "delete", unavailable)

    with pytest.raises(ErasureFailed, match=STORAGE_DOWN):
        asyncio.run(erase_person(EMAIL, ADMIN))

    assert asyncio.run(people.find(EMAIL)).counts["uploads"] == 1
    assert AdminAction.count().run_sync() == 0


def test_a_queue_that_fails_leaves_every_row_in_place(two_people, monkeypatch) -> None:
    def unavailable(*args: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(erase_from_hubspot, "send", unavailable)

    with pytest.raises(ErasureFailed, match=QUEUE_DOWN):
        asyncio.run(erase_person(EMAIL, ADMIN))

    assert asyncio.run(people.find(EMAIL)).counts["submissions"] == 1
    assert AdminAction.count().run_sync() == 0
