"""Signing in and out of the dashboard, and what a signed-out browser is refused."""

from __future__ import annotations

import asyncio

import pytest

from storage.admin import AdminAction, AdminSession, create_admin, password_matches
from tests.web.admin.signing import PASSWORD, sign_in
from tests.web.form_pages import Page


def test_signing_in_opens_the_dashboard_with_a_strict_httponly_cookie(client, admin_account):
    response = sign_in(client)

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("admin_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "ops" in page.text


def test_the_session_cookie_is_secure_over_https(client, admin_account):
    client.base_url = "https://127.0.0.1:8000"

    response = sign_in(client)

    assert "Secure" in response.headers["set-cookie"]


def test_only_a_hash_of_the_session_token_is_stored(client, admin_account):
    token = sign_in(client).cookies["admin_session"]

    stored = AdminSession.select(AdminSession.token_hash).run_sync()
    assert len(stored) == 1 and token not in stored[0]["token_hash"]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, admin_account):
    wrong_password = sign_in(client, password="not the passphrase")
    unknown_user = sign_in(client, username="nobody")

    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert "admin_session" not in response.headers.get("set-cookie", "")
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_an_inactive_or_non_admin_account_cannot_sign_in(client, db, fast_hashing):
    from piccolo.apps.user.tables import BaseUser

    BaseUser.create_user_sync("visitor", PASSWORD, email="v@example.com", active=True)
    BaseUser.create_user_sync("retired", PASSWORD, email="r@example.com", admin=True)

    assert sign_in(client, username="visitor").status_code == 401
    assert sign_in(client, username="retired").status_code == 401


def test_sign_in_attempts_are_rate_limited_per_address(client, admin_account, monkeypatch):
    from settings import get_settings

    monkeypatch.setattr(get_settings(), "admin_login_rate_limit", 3)
    answers = [sign_in(client, password="guess").status_code for _ in range(3)]
    blocked = sign_in(client)

    assert answers == [401, 401, 401]
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in blocked.text


def test_signing_out_ends_the_session_on_the_server(client, admin_account):
    token = sign_in(client).cookies["admin_session"]
    csrf = Page(client.get("/admin/").text).find("input", name="csrf_token")[0]["value"]

    response = client.post("/admin/logout", data={"csrf_token": csrf}, follow_redirects=False)

    assert response.status_code == 303
    assert AdminSession.count().run_sync() == 0
    client.cookies.set("admin_session", token, path="/admin")
    assert client.get("/admin/", follow_redirects=False).status_code == 303
    actions = AdminAction.select(AdminAction.action).order_by(AdminAction.id).run_sync()
    assert [row["action"] for row in actions] == ["sign_in", "sign_out"]


def test_a_signed_out_page_load_goes_to_sign_in_and_comes_back(client, admin_account):
    response = client.get("/admin/submissions", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/submissions"

    page = Page(client.get(response.headers["location"]).text)
    assert page.one("input", name="next")["value"] == "/admin/submissions"
    assert sign_in(client, next="/admin/submissions").headers["location"] == "/admin/submissions"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin", "/contact"])
def test_sign_in_never_sends_the_admin_off_the_dashboard(client, admin_account, target):
    assert sign_in(client, next=target).headers["location"] == "/admin/"


def test_a_poll_of_an_expired_session_sends_the_page_to_sign_in_and_back(client, admin_account):
    page = "http://127.0.0.1:8000/admin/submissions?status=failed"
    headers = {"HX-Request": "true", "HX-Current-URL": page}

    response = client.get("/admin/live", headers=headers)

    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/admin/login?next=/admin/submissions"


def test_admin_pages_are_never_cached_or_framed(admin):
    response = admin.get("/admin/")

    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


def test_passwords_are_checked_against_piccolos_pbkdf2_hash(db):
    asyncio.run(create_admin("root", "root@example.com", PASSWORD))
    from piccolo.apps.user.tables import BaseUser

    stored = BaseUser.select(BaseUser.password).first().run_sync()["password"]

    assert stored.startswith("pbkdf2_sha256$600000$")
    assert password_matches(PASSWORD, stored)
    assert not password_matches(PASSWORD + "x", stored)
    assert not password_matches(PASSWORD, None)


def test_creating_an_admin_refuses_a_short_password(db):
    with pytest.raises(ValueError, match="at least 12"):
        asyncio.run(create_admin("root", "root@example.com", "short"))


def test_switching_an_account_off_ends_its_open_sessions(admin):
    from piccolo.apps.user.tables import BaseUser

    assert admin.get("/admin/", follow_redirects=False).status_code == 200
    BaseUser.update({BaseUser.active: False}).where(BaseUser.username == "ops").run_sync()

    assert admin.get("/admin/", follow_redirects=False).status_code == 303


def test_only_what_the_admin_does_keeps_the_session_alive_not_polling(admin, monkeypatch):
    import datetime as dt

    from settings import get_settings
    from storage import admin as accounts

    monkeypatch.setattr(get_settings(), "admin_session_ttl", 60.0)
    admin.get("/admin/")  # a page load: idle for up to 60 s from now
    start = dt.datetime.now(dt.UTC)
    poll = {"HX-Request": "true", "X-Admin-Poll": "true"}

    monkeypatch.setattr(accounts, "_now", lambda: start + dt.timedelta(seconds=50))
    assert admin.get("/admin/live", headers=poll).status_code == 200
    monkeypatch.setattr(accounts, "_now", lambda: start + dt.timedelta(seconds=70))
    assert admin.get("/admin/live", headers=poll).status_code == 401
