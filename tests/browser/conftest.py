"""A real browser against the real app: Debian's Chromium driven by Playwright, and the app
served by uvicorn on a free loopback port with its embedded worker and the HubSpot sandbox.

Locally the tests skip when Chromium or Playwright is missing; under CI they fail, because
`just test` installs both. Playwright never downloads a browser here: it is pointed at
/usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Headless in a container, with nothing phoning home.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds Playwright waits for an element or a navigation before failing.
TIMEOUT_MS = 10_000
SERVER_START_TIMEOUT_S = 20.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: `just browser` installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(_migrated_sqlite: None) -> Iterator[Any]:
    """One headless Chromium per test module (the browser tests are one module).

    Playwright's sync API keeps an event loop running on this thread until it stops, and
    `asyncio.run` refuses to run beside it. So it stops with the module, not the session
    (the rest of the suite uses `asyncio.run`; and "package" scope is the session in a
    folder without `__init__.py`), and the migration the database fixtures need runs first.
    """
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@contextlib.contextmanager
def serving(**settings: Any) -> Iterator[str]:
    """The app as `just run` serves it, on a loopback port, with `settings` changed.

    Its PUBLIC_URL is its own address: the upload page sends files to the absolute URL
    the API answers, which is built on PUBLIC_URL."""
    import uvicorn

    from settings import get_settings
    from web.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"public_url": url, **settings}.items():
            patch.setattr(get_settings(), name, value)
        config = uvicorn.Config(
            create_app(), lifespan="on", ws="none", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start for the browser tests")
            time.sleep(0.02)
        try:
            yield url
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            sock.close()


@pytest.fixture(scope="module")
def live_server(_migrated_sqlite: None) -> Iterator[str]:
    """The app on a loopback port, for the browser tests only."""
    with serving() as url:
        yield url


@pytest.fixture
def context_options() -> dict[str, Any]:
    """Options of each test's browser context; a test overrides it to turn JavaScript off."""
    return {}


@pytest.fixture
def context(browser, live_server: str, db: None, sandbox, context_options) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test, against an empty database and portal."""
    context = browser.new_context(base_url=live_server, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context) -> Any:
    return context.new_page()
