"""The HubSpot call log: each row keeps the moment of its call and no e-mail address."""

from __future__ import annotations

import asyncio
import datetime as dt

from actors.audit import CallAudit
from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError
from storage.tables import HubSpotCall


def test_a_refused_address_is_masked_in_the_logged_error(any_db: str) -> None:
    refusal = HubSpotError(
        ErrorKind.PERMANENT,
        "Property values were not valid: Email Ann.O'Brien+x@mail.example.co.uk is invalid",
        status=400,
        operation="create_contact",
    )
    audit = CallAudit()

    audit.after_call(CallRecord("create_contact", 400, 12.5, error=refusal))
    asyncio.run(audit.flush())

    [row] = HubSpotCall.select().run_sync()
    assert row["error"] == (
        "create_contact: Property values were not valid: Email [e-mail] is invalid (HTTP 400)"
    )
    assert row["outcome"] == "permanent"


def test_each_row_keeps_the_time_of_its_call_not_of_the_write(any_db: str) -> None:
    audit = CallAudit()
    audit.after_call(CallRecord("create_contact", 201, 5.0))
    called = dt.datetime.now(dt.UTC)
    asyncio.run(asyncio.sleep(0.3))

    asyncio.run(audit.flush())

    [row] = HubSpotCall.select(HubSpotCall.at).run_sync()
    assert abs((row["at"] - called).total_seconds()) < 0.2
