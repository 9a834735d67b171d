"""Helpers for the dashboard tests: pulling a lever as a browser does, and reading the
admin audit trail."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from storage.admin import AdminAction
from tests.web.admin.signing import csrf_of


def pull(client: TestClient, path: str, back_to: str = "/admin/submissions"):
    """Post a lever's form from the page `back_to`, as its button does."""
    fields = {"csrf_token": csrf_of(client, back_to), "next": back_to}
    return client.post(path, data=fields, follow_redirects=False)


def actions(action: str) -> list[dict[str, Any]]:
    """The audit trail's rows of one action, oldest first."""
    query = AdminAction.select().where(AdminAction.action == action).order_by(AdminAction.id)
    return query.output(load_json=True).run_sync()
