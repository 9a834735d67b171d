"""Admin sessions: the idle expiry moves with use, the absolute one never does, and the
periodic purge drops what either has ended — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from piccolo.apps.user.tables import BaseUser

from storage import admin
from storage.admin import AdminSession, end_session, purge_expired_sessions, session_admin


def start(idle_s: float = 60, max_age_s: float = 3600) -> str:
    user = BaseUser.select(BaseUser.id).where(BaseUser.username == "ops").first().run_sync()
    if user is None:
        # A stored hash as it is kept: no password need be hashed to test sessions.
        account = BaseUser(
            username="ops",
            email="ops@example.com",
            password="pbkdf2_sha256$1$salt$00",
            active=True,
            admin=True,
        )
        account.save().run_sync()
        user = {"id": account.id}
    return asyncio.run(admin.start_session(user["id"], "ops", idle_s, max_age_s))


def shift(seconds: float, monkeypatch) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    monkeypatch.setattr(admin, "_now", lambda: later)


def test_a_session_names_its_admin_and_use_pushes_its_idle_expiry_back(any_db, monkeypatch):
    token = start(idle_s=60)

    shift(50, monkeypatch)
    [user] = BaseUser.select(BaseUser.id).run_sync()
    assert asyncio.run(session_admin(token, 60)) == admin.Admin(user["id"], "ops")
    shift(100, monkeypatch)  # 50 s after the last use: still inside the idle minute
    assert asyncio.run(session_admin(token, 60)) is not None
    shift(200, monkeypatch)
    assert asyncio.run(session_admin(token, 60)) is None


def test_use_never_extends_a_session_past_its_absolute_end(any_db, monkeypatch):
    token = start(idle_s=60, max_age_s=100)

    shift(50, monkeypatch)
    assert asyncio.run(session_admin(token, 60)) is not None
    shift(101, monkeypatch)
    assert asyncio.run(session_admin(token, 60)) is None


def test_an_unknown_or_ended_token_names_nobody(any_db):
    token = start()

    assert asyncio.run(session_admin(token + "x", 60)) is None
    asyncio.run(end_session(token))
    assert asyncio.run(session_admin(token, 60)) is None


def test_the_purge_drops_only_ended_sessions(any_db, monkeypatch):
    start(idle_s=60)
    live = start(idle_s=600)

    shift(120, monkeypatch)
    assert asyncio.run(purge_expired_sessions()) == 1
    assert AdminSession.count().run_sync() == 1
    assert asyncio.run(session_admin(live, 600)) is not None


def test_a_page_polling_by_itself_does_not_keep_the_session_alive(any_db, monkeypatch):
    token = start(idle_s=60)

    shift(50, monkeypatch)
    assert asyncio.run(session_admin(token, 60, in_use=False)) is not None
    shift(70, monkeypatch)  # 70 s since the admin last did anything
    assert asyncio.run(session_admin(token, 60, in_use=False)) is None
