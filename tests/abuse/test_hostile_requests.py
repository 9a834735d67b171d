"""Hostile requests: a forged Host header, a visitor's CSRF token on the dashboard, framing
and sniffing, and signed links leaking into the access log."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from settings import ROOT, get_settings
from storage.admin import AdminAction
from tests.web.admin.signing import PASSWORD, USERNAME, csrf_of, sign_in
from tests.web.form_pages import Page
from tests.web.leads import eventually
from tests.web.uploading import token_of
from web.app import create_app
from web.csrf import COOKIE_NAME, SECURE_COOKIE_NAME
from web.uploads import UPLOAD_TOKEN_HEADER

PUBLIC_URL = "https://leads.example.com"
ATTACKER = {"Host": "attacker.example"}
CSV = b"id,name\n1,Ann\n2,Bob\n"
#: Seconds a real uvicorn gets to start answering.
SERVER_START_TIMEOUT_S = 30.0


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(get_settings(), "public_url", PUBLIC_URL)
    return PUBLIC_URL


@pytest.fixture
def named_site(db: None, public_url: str) -> TestClient:
    """The app with PUBLIC_URL set and ALLOWED_HOSTS left to follow it (no lifespan)."""
    return TestClient(create_app(), base_url=public_url)


@pytest.fixture
def app_without_lifespan(db: None) -> TestClient:
    """The app with the embedded defaults: no PUBLIC_URL, any host (no lifespan)."""
    return TestClient(create_app(), base_url="http://127.0.0.1:8000")


# Host header


def test_a_forged_host_is_refused_once_the_site_has_a_name(named_site: TestClient) -> None:
    assert named_site.get("/").status_code == 200
    assert named_site.get("/", headers={"Host": "localhost:8000"}).status_code == 200

    refused = named_site.get("/contact", headers=ATTACKER)

    assert refused.status_code == 400
    assert "attacker.example" not in refused.text


def test_health_probes_answer_whatever_host_a_load_balancer_names(named_site: TestClient) -> None:
    assert named_site.get("/healthz", headers={"Host": "10.0.3.7:8000"}).status_code == 200


def test_named_hosts_and_subdomain_patterns_are_served(db, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "allowed_hosts", "leads.example.com, *.example.org")
    site = TestClient(create_app())

    assert site.get("/", headers={"Host": "eu.example.org"}).status_code == 200
    assert site.get("/", headers={"Host": "leads.example.com"}).status_code == 200
    assert site.get("/", headers={"Host": "localhost"}).status_code == 400


def test_links_in_the_crm_and_api_use_public_url_whatever_the_host(
    client: TestClient, sandbox, public_url: str
) -> None:
    # Any host is served (no ALLOWED_HOSTS, the embedded default); the links ignore it.
    body = {"email": "dana@example.com", "filename": "a.csv", "contentType": "text/csv"}
    created = client.post("/api/uploads", json=body | {"size": len(CSV)}, headers=ATTACKER)
    target = created.json()["data"]
    sent = client.post(
        target["url"], data=target["fields"], files={"file": ("a.csv", CSV, "text/csv")}
    )
    headers = ATTACKER | {UPLOAD_TOKEN_HEADER: token_of(target)}
    completed = client.post(f"/api/uploads/{target['upload_id']}/complete", headers=headers)

    assert created.status_code == 201 and sent.status_code == 204
    assert completed.status_code == 202
    assert target["url"].startswith(f"{public_url}/")
    assert target["status_url"].startswith(f"{public_url}/api/uploads/{target['upload_id']}?token=")
    assert target["status_page"] == target["status_url"].replace("/api/uploads/", "/uploads/")
    [note] = eventually(sandbox.notes, "the upload's note in the CRM")
    note_body = note["properties"]["hs_note_body"]
    assert f'href="{target["status_page"]}"' in note_body
    assert "attacker.example" not in note_body


def test_without_public_url_links_go_to_host_and_port(app_without_lifespan) -> None:
    settings = get_settings()
    body = {"email": "dana@example.com", "filename": "a.csv", "contentType": "text/csv"}

    created = app_without_lifespan.post(
        "/api/uploads", json=body | {"size": len(CSV)}, headers=ATTACKER
    )

    status_url = created.json()["data"]["status_url"]
    assert status_url.startswith(f"http://{settings.host}:{settings.port}/api/uploads/")


# CSRF bound to the admin session


def test_a_visitors_csrf_token_is_refused_on_an_admin_post(admin: TestClient) -> None:
    visitor_token = admin.cookies[COOKIE_NAME]  # minted when the sign-in form was shown
    recorded = AdminAction.count().run_sync()

    refused = admin.post(
        "/admin/sync/pause", data={"csrf_token": visitor_token}, follow_redirects=False
    )
    by_header = admin.post(
        "/admin/sync/pause", headers={"X-CSRF-Token": visitor_token}, follow_redirects=False
    )

    assert (refused.status_code, by_header.status_code) == (403, 403)
    assert AdminAction.count().run_sync() == recorded
    accepted = admin.post(
        "/admin/sync/pause", data={"csrf_token": csrf_of(admin)}, follow_redirects=False
    )
    assert accepted.status_code == 303
    assert AdminAction.count().run_sync() == recorded + 1


def test_each_sign_in_brings_a_new_admin_token(admin: TestClient) -> None:
    first = csrf_of(admin)
    admin.post("/admin/logout", data={"csrf_token": first}, follow_redirects=False)
    assert sign_in(admin).status_code == 303

    second = csrf_of(admin)

    assert second != first
    stale = admin.post("/admin/sync/pause", data={"csrf_token": first}, follow_redirects=False)
    assert stale.status_code == 403


def test_signing_in_works_with_a_form_shown_before_another_tab_signed_in(
    client: TestClient, admin_account: str
) -> None:
    anonymous_form = Page(client.get("/admin/login").text)
    assert sign_in(client).status_code == 303  # another tab signs in meanwhile

    token = anonymous_form.one("input", name="csrf_token")["value"]
    fields = {"username": USERNAME, "password": PASSWORD, "csrf_token": token}
    again = client.post("/admin/login", data=fields, follow_redirects=False)

    assert again.status_code == 303


def test_the_csrf_cookie_is_host_prefixed_over_https(db: None, admin_account: str) -> None:
    site = TestClient(create_app(), base_url="https://127.0.0.1")

    page = site.get("/admin/login")

    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE_NAME}=")
    assert "; Secure" in cookie and "; Path=/;" in cookie and "domain" not in cookie.lower()
    assert sign_in(site).status_code == 303
    assert site.get("/admin/").status_code == 200


def test_a_plain_csrf_cookie_is_not_taken_over_https(db: None, admin_account: str) -> None:
    site = TestClient(create_app(), base_url="https://127.0.0.1")
    site.get("/admin/login")
    token = site.cookies[SECURE_COOKIE_NAME]
    site.cookies.clear()
    site.cookies.set(COOKIE_NAME, token)

    response = site.post("/admin/login", data={"csrf_token": token, "username": USERNAME})

    assert response.status_code == 403


# Security headers


def _csp(response: Any) -> dict[str, str]:
    directives = (
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    return {name: sources for name, sources in directives}


def _assert_secured(response: Any) -> None:
    policy = _csp(response)
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "unsafe" not in response.headers["content-security-policy"]
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert len(response.headers.get_list(name)) == 1, name


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/contact", 200),
        ("GET", "/upload", 200),
        ("GET", "/thanks", 200),
        ("GET", f"/uploads/{uuid.uuid4()}?token=nope", 404),
        ("GET", f"/api/uploads/{uuid.uuid4()}?token=nope", 404),
        ("POST", "/contact", 403),
        ("GET", "/static/site.css", 200),
        ("GET", "/no-such-page", 404),
        ("GET", "/admin/login", 200),
        ("GET", "/admin/", 303),
        ("GET", "/healthz", 200),
    ],
)
def test_every_response_carries_the_security_headers(
    app_without_lifespan: TestClient, method: str, path: str, status: int
) -> None:
    response = app_without_lifespan.request(method, path, follow_redirects=False)

    assert response.status_code == status
    _assert_secured(response)
    assert _csp(response)["frame-ancestors"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"


def test_an_unhandled_error_gets_the_security_headers_too(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import uploads

    async def broken(upload_id: uuid.UUID) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(uploads, "get_upload", broken)
    site = TestClient(create_app(), raise_server_exceptions=False)

    response = site.get(f"/api/uploads/{uuid.uuid4()}?token=x")

    assert response.status_code == 500
    _assert_secured(response)


def test_a_refused_host_gets_the_security_headers_too(named_site: TestClient) -> None:
    _assert_secured(named_site.get("/", headers=ATTACKER))


def test_the_signed_in_dashboard_carries_them_and_its_own(admin: TestClient) -> None:
    page = admin.get("/admin/")

    _assert_secured(page)
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"


def test_status_pages_keep_their_no_referrer(app_without_lifespan: TestClient) -> None:
    page = app_without_lifespan.get(f"/uploads/{uuid.uuid4()}?token=nope")
    home = app_without_lifespan.get("/")

    assert page.headers.get_list("referrer-policy") == ["no-referrer"]
    assert home.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_frame_ancestors_lets_the_named_site_frame_the_forms_but_never_the_dashboard(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "frame_ancestors", "'self' https://www.example.com")
    site = TestClient(create_app())

    form = site.get("/contact")
    dashboard = site.get("/admin/login")

    assert _csp(form)["frame-ancestors"] == "'self' https://www.example.com"
    assert "x-frame-options" not in form.headers  # it cannot name another site
    assert _csp(dashboard)["frame-ancestors"] == "'none'"
    assert dashboard.headers["x-frame-options"] == "DENY"


def test_recaptcha_hosts_are_allowed_only_when_recaptcha_is_on(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = _csp(TestClient(create_app()).get("/contact"))
    monkeypatch.setattr(get_settings(), "recaptcha_secret", "secret")
    monkeypatch.setattr(get_settings(), "recaptcha_site_key", "site-key")

    on = _csp(TestClient(create_app()).get("/contact"))

    assert off["script-src"] == "'self'" and off["frame-src"] == "'none'"
    assert "https://www.google.com/recaptcha/" in on["script-src"]
    assert "https://www.gstatic.com/recaptcha/" in on["script-src"]
    assert "https://www.google.com/recaptcha/" in on["frame-src"]


def test_strict_transport_security_is_sent_over_https_only(db: None) -> None:
    app = create_app()

    over_http = TestClient(app, base_url="http://127.0.0.1").get("/")
    over_https = TestClient(app, base_url="https://127.0.0.1").get("/")

    assert "strict-transport-security" not in over_http.headers
    assert over_https.headers["strict-transport-security"] == "max-age=31536000"


# Access log


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_env(tmp_path: Path, sandbox_server) -> dict[str, str]:
    """A scratch database and upload folder, HubSpot at the tests' sandbox."""
    port = _free_port()
    return os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'server.sqlite'}",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "HUBSPOT_API_URL": sandbox_server.url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def _serve(command: list[str], env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    base_url = f"http://127.0.0.1:{env['PORT']}"
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx2.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


#: `just run` (uvicorn.run inside the app's own entry point) and `just web` (uvicorn's CLI).
COMMANDS = {
    "just run": [sys.executable, "-m", "web"],
    "just web": [sys.executable, "-m", "uvicorn", "web.main:app", "--host", "127.0.0.1"],
}


@pytest.mark.parametrize("entry", list(COMMANDS))
def test_signed_tokens_never_reach_the_access_log(server_env: dict[str, str], entry: str) -> None:
    command = COMMANDS[entry]
    if entry == "just web":
        command = [*command, "--port", server_env["PORT"]]
    upload_id = uuid.uuid4()
    secret = "leaky-token-" + uuid.uuid4().hex

    with _serve(command, server_env) as (base_url, process):
        page = httpx2.get(f"{base_url}/uploads/{upload_id}?token={secret}")
        api = httpx2.get(f"{base_url}/api/uploads/{upload_id}?token={secret}")
        process.terminate()
        log = process.communicate(timeout=20)[0]

    assert (page.status_code, api.status_code) == (404, 404)
    assert f'"GET /uploads/{upload_id} HTTP/1.1" 404' in log
    assert f'"GET /api/uploads/{upload_id} HTTP/1.1" 404' in log
    assert secret not in log and "token=" not in log
