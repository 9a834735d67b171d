"""A lead through the JSON API, as the spec's example posts it, and waiting for the
embedded worker to settle it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from storage.submissions import get_submission
from storage.tables import Submission

#: The spec's example contact form.
SPEC_LEAD = {
    "firstName": "Jane",
    "lastName": "Smith",
    "email": "jane.smith@example.com",
    "company": "Tech Solutions Inc",
    "country": "United States",
    "serviceInterests": ["Data Preparation"],
}
#: Seconds the embedded worker gets to settle a row.
SETTLE_TIMEOUT_S = 15


def submit(client: TestClient, **changes: Any) -> str:
    response = client.post("/api/contact", json=SPEC_LEAD | changes)
    assert response.status_code == 202, response.text
    return response.json()["data"]["submission_id"]


def eventually(check: Callable[[], Any], what: str, timeout_s: float = SETTLE_TIMEOUT_S) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def wait_for_status(
    submission_id: str, status: str, timeout_s: float = SETTLE_TIMEOUT_S
) -> Submission:
    def settled() -> Submission | None:
        row = asyncio.run(get_submission(submission_id))
        return row if row is not None and row.status == status else None

    return eventually(settled, f"submission {submission_id} to be {status}", timeout_s)


def submit_settled(client: TestClient, count: int, status: str) -> None:
    """Post `count` leads of new e-mails and wait until each is `status`."""
    ids = [submit(client, email=f"lead-{uuid.uuid4().hex[:12]}@example.com") for _ in range(count)]
    for submission_id in ids:
        wait_for_status(submission_id, status)
