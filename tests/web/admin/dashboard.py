"""Helpers for the dashboard tests: a lead through the API, waiting for the embedded
worker, pulling a lever as a browser does, and reading the admin audit trail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from storage.admin import AdminAction
from storage.submissions import get_submission
from storage.tables import Submission
from tests.web.admin.signing import csrf_of

LEAD = {
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
    response = client.post("/api/contact", json=LEAD | changes)
    assert response.status_code == 202, response.text
    return response.json()["data"]["submission_id"]


def eventually(check: Callable[[], Any], what: str, timeout_s: float = SETTLE_TIMEOUT_S) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def wait_for_status(submission_id: str, status: str) -> Submission:
    def settled() -> Submission | None:
        row = asyncio.run(get_submission(submission_id))
        return row if row is not None and row.status == status else None

    return eventually(settled, f"submission {submission_id} to be {status}")


def pull(client: TestClient, path: str, back_to: str = "/admin/submissions"):
    """Post a lever's form from the page `back_to`, as its button does."""
    fields = {"csrf_token": csrf_of(client, back_to), "next": back_to}
    return client.post(path, data=fields, follow_redirects=False)


def actions(action: str) -> list[dict[str, Any]]:
    """The audit trail's rows of one action, oldest first."""
    query = AdminAction.select().where(AdminAction.action == action).order_by(AdminAction.id)
    return query.output(load_json=True).run_sync()
