"""Signing in to the dashboard as a browser does: the form's CSRF token, then the post."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.web.form_pages import Page

USERNAME = "ops"
PASSWORD = "a long enough passphrase"


def sign_in(client: TestClient, username: str = USERNAME, password: str = PASSWORD, **extra):
    page = Page(client.get("/admin/login").text)
    token = page.one("input", name="csrf_token")["value"]
    fields = {"username": username, "password": password, "csrf_token": token, **extra}
    return client.post("/admin/login", data=fields, follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/admin/") -> str:
    """The CSRF token a signed-in page renders into its forms."""
    return Page(client.get(path).text).find("input", name="csrf_token")[0]["value"] or ""
