"""Fixtures for the dashboard: an admin account, and the app with that admin signed in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from piccolo.apps.user.tables import BaseUser
from starlette.testclient import TestClient

from storage.admin import create_admin
from tests.web.admin.signing import PASSWORD, USERNAME, sign_in


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """PBKDF2 at 1,000 rounds instead of 600,000: a third of a second less per sign-in."""
    monkeypatch.setattr(BaseUser, "_pbkdf2_iteration_count", 1000)


@pytest.fixture
def admin_account(db: None, fast_hashing: None) -> str:
    import asyncio

    asyncio.run(create_admin(USERNAME, "ops@example.com", PASSWORD))
    return USERNAME


@pytest.fixture
def admin(client: TestClient, admin_account: str) -> Iterator[TestClient]:
    """The app (embedded worker, sandbox) with an admin signed in."""
    response = sign_in(client)
    assert response.status_code == 303, response.text
    yield client
