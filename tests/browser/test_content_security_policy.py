"""Every page under the strict Content-Security-Policy in Chromium: nothing is refused and
nothing logs an error, htmx steps and the upload's progress still work, with reCAPTCHA off
and on (Google's script replaced by a stub on its own URL, its verifier by one on loopback).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from piccolo.utils.sync import run_sync

from storage.admin import create_admin
from tests.browser.conftest import serving
from tests.web.test_protection import FakeVerifier
from web.protection import recaptcha_site_key

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None

PASSWORD = "a long enough passphrase"
#: Google's script URL, as `form_page.html` asks for it; the browser gets the stub instead.
RECAPTCHA_SCRIPT = re.compile(r"^https://www\.google\.com/recaptcha/api\.js")
#: What the page needs of `grecaptcha`; its token is one the fake verifier calls a person.
RECAPTCHA_STUB = """
window.grecaptcha = {
  ready: function (callback) { callback(); },
  execute: function () { return Promise.resolve("good"); }
};
"""
#: Collects the page's CSP violations; init scripts run outside the page's policy.
WATCH_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module", params=["reCAPTCHA off", "reCAPTCHA on"])
def live_server(request: pytest.FixtureRequest, _migrated_sqlite: None) -> Iterator[str]:
    """The app once without reCAPTCHA and once with it: each has its own policy."""
    if request.param == "reCAPTCHA off":
        with serving() as url:
            yield url
        return
    with FakeVerifier() as verifier:
        recaptcha = {
            "recaptcha_secret": "test-recaptcha-secret",
            "recaptcha_site_key": "test-site-key",
            "recaptcha_verify_url": verifier.url,
        }
        with serving(**recaptcha) as url:
            yield url


#: What htmx logs when a step's submit aborts the inline check still in flight (hx-sync):
#: the intended behaviour, not an error of the page.
ABORTED_CHECK = ("htmx:sendAbort", "htmx:afterRequest")


class Watched:
    """A page whose console errors and CSP violations are collected as it goes."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith(ABORTED_CHECK):
            self.errors.append(message.text)

    def assert_clean(self, what: str) -> None:
        violations = self.page.evaluate("window.cspViolations || []")
        assert violations == [], f"{what}: CSP violations {violations}"
        assert self.errors == [], f"{what}: console errors {self.errors}"


@pytest.fixture
def watched(context) -> Watched:
    context.add_init_script(WATCH_VIOLATIONS)
    context.route(
        RECAPTCHA_SCRIPT,
        lambda route: route.fulfill(
            status=200, content_type="text/javascript", body=RECAPTCHA_STUB
        ),
    )
    return Watched(context.new_page())


@pytest.mark.parametrize("path", ["/", "/contact", "/demo-request", "/quote-request", "/upload"])
def test_every_visitor_page_loads_with_nothing_refused(watched: Watched, path: str) -> None:
    watched.page.goto(path)
    watched.page.wait_for_load_state("networkidle")

    watched.assert_clean(path)
    assert watched.page.evaluate("typeof window.htmx") == "object", "htmx did not run"


def test_a_form_goes_step_by_step_to_the_thanks_page(watched: Watched, sandbox) -> None:
    from tests.browser.test_forms_in_browser import (
        expect_step,
        fill_about_you,
        fill_company,
        fill_project,
        press,
    )

    page = watched.page
    page.goto("/contact")
    fill_about_you(page, "csp@example.com")
    page.locator("#email").press("Tab")  # the inline check is an htmx request too
    press(page, "Continue")
    expect_step(page, "Step 2 of 3: Your company")
    fill_company(page)
    press(page, "Continue")
    expect_step(page, "Step 3 of 3: Your project")
    if recaptcha_site_key():
        assert page.evaluate("typeof window.grecaptcha") == "object", "the stub did not load"
    fill_project(page, "contact")
    press(page, "Send")

    expect(page).to_have_url(re.compile(r"/thanks$"))
    watched.assert_clean("the steps and the thanks page")


def test_an_upload_shows_its_progress_and_status_page(watched: Watched, tmp_path: Path) -> None:
    sample = tmp_path / "customers.csv"
    sample.write_text("id,name\n1,Ann\n2,Bob\n", encoding="utf-8")
    page = watched.page
    page.goto("/upload")
    page.fill("#email", "csp@example.com")
    page.set_input_files("#file", str(sample))
    page.click("#upload-button")

    page.wait_for_url("**/uploads/*?token=*")
    page.wait_for_selector('[data-stage="recorded"][data-state="done"]')

    watched.assert_clean("the upload and its status page")


def test_the_admin_dashboard_loads_with_nothing_refused(watched: Watched) -> None:
    run_sync(create_admin("ops", "ops@example.com", PASSWORD))
    page = watched.page
    page.goto("/admin/login")
    page.fill("#username", "ops")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.wait_for_load_state("networkidle")
    watched.assert_clean("the overview")

    for path in ("/admin/submissions", "/admin/uploads", "/admin/people", "/admin/activity"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        watched.assert_clean(path)
