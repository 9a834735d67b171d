"""The three forms in headless Chromium, as visitors use them: step by step with inline
checks, without JavaScript, as a returning visitor, and resumed after leaving."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from storage.tables import Submission

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None

#: Seconds the background sync gets to put the contact into the sandbox.
SYNC_TIMEOUT_S = 15.0

PATHS = {"contact": "/contact", "demo_request": "/demo-request", "quote_request": "/quote-request"}


def wait_for_contact(sandbox, email: str) -> dict:
    """The sandbox's contact with that e-mail, once the background sync has made it."""
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        for contact in sandbox.contacts():
            if contact["properties"].get("email") == email:
                return contact
        time.sleep(0.1)
    statuses = Submission.select(Submission.status, Submission.last_error).run_sync()
    raise AssertionError(f"no contact {email} in the sandbox; submissions: {statuses}")


def expect_step(page, heading: str) -> None:
    expect(page.locator("#step-heading")).to_have_text(heading)


def fill_about_you(page, email: str, phone: str = "+44 20 7946 0958") -> None:
    page.fill("#firstName", "ada")
    page.fill("#lastName", "Lovelace")
    page.fill("#email", email)
    page.fill("#phone", phone)
    page.fill("#jobTitle", "Analyst")


def fill_company(page) -> None:
    page.fill("#company", "Analytical Engines")
    page.select_option("#country", "GB")


def fill_project(page, form_type: str) -> None:
    page.check("#serviceInterests-data_collection")
    page.check("#serviceInterests-data_annotation")
    page.fill("#projectDetails", "Label 10,000 images.")
    if form_type == "demo_request":
        page.fill("#preferredDate", "2031-05-01")
        page.fill("#preferredTime", "14:30")
        page.select_option("#timeZone", "Europe/London")
    if form_type == "quote_request":
        page.select_option("#budget", "10k_50k")
        page.select_option("#timeline", "asap")


def press(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


@pytest.mark.parametrize("form_type", list(PATHS))
def test_a_visitor_fills_each_form_step_by_step(page, sandbox, form_type: str) -> None:
    email = f"ada.{form_type}@example.com"
    page.goto(PATHS[form_type])
    expect_step(page, "Step 1 of 3: About you")
    expect(page.locator(".steps [aria-current=step]")).to_have_text("About you")

    # A bad e-mail is flagged as the visitor leaves the field, and cleared once fixed
    fill_about_you(page, "ada@example")
    page.locator("#email").press("Tab")
    expect(page.locator("#email-error")).to_contain_text("Enter a valid e-mail address")
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    page.fill("#email", email)
    page.locator("#email").press("Tab")
    expect(page.locator("#email-error")).to_have_count(0)
    expect(page.locator("#email")).not_to_have_attribute("aria-invalid", "true")

    # The phone is shown back normalised
    page.fill("#phone", "+44 20 7946 0958")
    page.locator("#phone").press("Tab")
    expect(page.locator("#phone")).to_have_value("+442079460958")

    press(page, "Continue")
    expect_step(page, "Step 2 of 3: Your company")
    expect(page.locator("#step-heading")).to_be_focused()
    expect(page.locator(".steps [aria-current=step]")).to_have_text("Your company")
    expect(page).to_have_title(re.compile(r"^Step 2 of 3: Your company"))

    fill_company(page)
    press(page, "Continue")
    expect_step(page, "Step 3 of 3: Your project")
    expect(page.locator("#marketingConsent")).not_to_be_checked()
    fill_project(page, form_type)
    page.check("#marketingConsent")
    press(page, "Send")

    expect(page).to_have_url(re.compile(r"/thanks$"))
    expect(page.locator("h1")).to_have_text("Thank you — we have your request")
    contact = wait_for_contact(sandbox, email)
    assert contact["properties"]["firstname"] == "Ada"
    assert contact["properties"]["phone"] == "+442079460958"
    assert contact["properties"]["company"] == "Analytical Engines"
    assert contact["properties"]["marketing_consent"] == "true"


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_without_javascript_every_step_is_a_plain_post(page, sandbox) -> None:
    page.goto("/quote-request")

    # The server finds what the browser cannot: a phone number that is no number
    fill_about_you(page, "ada.nojs@example.com", phone="12345")
    press(page, "Continue")
    expect(page.locator(".error-summary")).to_contain_text("Enter a valid phone number")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email")).to_have_value("ada.nojs@example.com")
    expect(page).to_have_title(re.compile(r"^Error: Step 1 of 3"))
    page.fill("#phone", "+44 20 7946 0958")
    press(page, "Continue")

    expect_step(page, "Step 2 of 3: Your company")
    fill_company(page)
    press(page, "Continue")
    expect_step(page, "Step 3 of 3: Your project")
    press(page, "Back")  # and forward again: nothing typed is lost
    expect_step(page, "Step 2 of 3: Your company")
    expect(page.locator("#company")).to_have_value("Analytical Engines")
    press(page, "Continue")
    fill_project(page, "quote_request")
    press(page, "Send")

    expect(page).to_have_url(re.compile(r"/thanks$"))
    contact = wait_for_contact(sandbox, "ada.nojs@example.com")
    assert contact["properties"]["phone"] == "+442079460958"


def test_a_returning_visitor_is_asked_fewer_questions(page, sandbox) -> None:
    # Given a visitor who sent the contact form
    page.goto("/contact")
    fill_about_you(page, "ada.again@example.com")
    press(page, "Continue")
    fill_company(page)
    press(page, "Continue")
    fill_project(page, "contact")
    press(page, "Send")
    expect(page).to_have_url(re.compile(r"/thanks$"))

    # When they come back for a demo, only the project is asked
    page.goto("/demo-request")
    expect(page.locator(".welcome-back")).to_contain_text("Welcome back, Ada.")
    expect_step(page, "Step 1 of 1: Your project")
    expect(page.locator("#email")).to_have_count(0)
    expect(page.locator("#company")).to_have_count(0)
    assert "ada.again@example.com" not in page.content()
    fill_project(page, "demo_request")
    press(page, "Send")
    expect(page).to_have_url(re.compile(r"/thanks$"))

    # Then HubSpot gets the whole contact from the product's own records
    wait_for_contact(sandbox, "ada.again@example.com")
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while len(sandbox.deals()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(d["properties"]["form_type"] for d in sandbox.deals()) == [
        "contact",
        "demo_request",
    ]

    # And "Not you?" brings the full form back
    page.goto("/quote-request")
    press(page, "Not you?")
    expect_step(page, "Step 1 of 3: About you")
    expect(page.locator("#email")).to_have_value("")
    expect(page.locator(".welcome-back")).to_have_count(0)


def test_a_visitor_who_leaves_after_step_one_resumes_at_step_two(context, sandbox) -> None:
    page = context.new_page()
    page.goto("/contact")
    fill_about_you(page, "ada.resume@example.com", phone="12345")
    press(page, "Continue")
    # The step's server-side check fails: the summary takes focus, so it is read first
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary a[href='#phone']")).to_contain_text("phone number")
    page.fill("#phone", "+44 20 7946 0958")
    press(page, "Continue")
    expect_step(page, "Step 2 of 3: Your company")
    page.close()

    again = context.new_page()
    again.goto("/contact")

    expect_step(again, "Step 2 of 3: Your company")
    press(again, "Back")
    expect_step(again, "Step 1 of 3: About you")
    expect(again.locator("#email")).to_have_value("ada.resume@example.com")
    expect(again.locator("#phone")).to_have_value("+442079460958")
    assert Submission.count().run_sync() == 0
