"""Hostile visitors (#11): a forged X-Forwarded-For does not buy a fresh address, and
guessing one account's password from many addresses is locked out."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from settings import get_settings, load_settings
from storage.admin import create_admin
from tests.web.admin.signing import PASSWORD, USERNAME, sign_in
from web.__main__ import server_options
from web.client_ip import client_ip

SERVER_START_TIMEOUT_S = 10.0  #: how long a loopback uvicorn may take to listen


async def _who_am_i(request: Request) -> JSONResponse:
    """The address the per-address limits key on, and the scheme HSTS keys on."""
    return JSONResponse({"client_ip": client_ip(request), "scheme": request.url.scheme})


@contextmanager
def _site(monkeypatch: pytest.MonkeyPatch, trusted_proxies: str) -> Iterator[str]:
    """A real uvicorn on a free loopback port, started with the site's own options."""
    monkeypatch.setenv("TRUSTED_PROXIES", trusted_proxies)
    get_settings.cache_clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = server_options(load_settings()) | {
        "host": "127.0.0.1",
        "port": port,
        "log_level": "warning",
    }
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/", _who_am_i)]), **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join()
        get_settings.cache_clear()


def _ask(url: str) -> dict[str, str]:
    request = urllib.request.Request(
        url, headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _site(monkeypatch, trusted_proxies="") as url:
        seen = _ask(url)

    assert seen == {"client_ip": "127.0.0.1", "scheme": "http"}


@pytest.mark.parametrize("trusted_proxies", ["127.0.0.1", "127.0.0.5/8"])
def test_a_trusted_proxy_forwards_the_visitor_address_and_https(
    monkeypatch: pytest.MonkeyPatch, trusted_proxies: str
) -> None:
    with _site(monkeypatch, trusted_proxies=trusted_proxies) as url:
        seen = _ask(url)

    assert seen == {"client_ip": "203.0.113.9", "scheme": "https"}


def _from(client: TestClient, address: str) -> TestClient:
    """The same site as seen from another visitor address."""
    return TestClient(client.app, base_url=str(client.base_url), client=(address, 50000))


def test_sign_in_is_locked_per_account_across_addresses(client, monkeypatch) -> None:
    from piccolo.apps.user.tables import BaseUser

    monkeypatch.setattr(BaseUser, "_pbkdf2_iteration_count", 1000)
    asyncio.run(create_admin(USERNAME, "ops@example.com", PASSWORD))
    asyncio.run(create_admin("other", "other@example.com", PASSWORD))
    monkeypatch.setattr(get_settings(), "admin_login_account_limit", 3)
    guesses = [
        sign_in(_from(client, f"198.51.100.{n}"), password="guess").status_code for n in range(3)
    ]

    locked = sign_in(_from(client, "203.0.113.50"))
    unknown = [sign_in(_from(client, "203.0.113.51"), username="nobody") for _ in range(4)]
    other = sign_in(_from(client, "203.0.113.52"), username="other")

    assert guesses == [401, 401, 401]
    wait_s = int(locked.headers["retry-after"])
    assert locked.status_code == 429 and wait_s > 0
    assert f"Too many sign-in attempts. Try again in {-(-wait_s // 60)} minutes." in locked.text
    assert [answer.status_code for answer in unknown] == [401, 401, 401, 429]
    assert other.status_code == 303
