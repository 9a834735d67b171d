"""The HTML forms: rendered accessibly in steps, posted with or without htmx, checked inline
and per step, and guarded by the CSRF token. Only the last step goes through
`accept_submission`, so rows are counted."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from storage.tables import SUBMISSION_STATUSES, Submission
from tests.web.form_pages import (
    HTMX,
    VALID,
    Page,
    app_client,
    post_form,
    post_step,
    token_from,
    walk_to,
)
from web.csrf import COOKIE_NAME, EXPIRED_MESSAGE

INVALID = VALID | {"email": "ada@", "phone": "+1 (555) 123-4567", "country": "Narnia"}


@pytest.fixture
def pages(db: None) -> Iterator[TestClient]:
    with app_client() as test_client:
        yield test_client


def rows() -> list[dict]:
    return Submission.select(Submission.form_type, Submission.status).run_sync()


def page_at(client, path: str, step: str) -> Page:
    walk_to(client, path, step)
    return Page(client.get(path).text)


def test_the_landing_page_links_the_three_forms(pages) -> None:
    page = Page(pages.get("/").text)

    hrefs = {link["href"] for link in page.find("a")}
    assert {"/contact", "/demo-request", "/quote-request"} <= hrefs
    assert len(page.find("h1")) == 1


def test_a_form_page_carries_a_csrf_token_and_the_vendored_htmx(pages) -> None:
    response = pages.get("/contact")

    page = Page(response.text)
    token = page.one("input", name="csrf_token", type="hidden")["value"]
    assert token and token == pages.cookies[COOKIE_NAME]
    script = page.one("script")
    assert script["src"] == "/static/htmx-2.0.11.min.js"
    assert pages.get(script["src"]).status_code == 200
    assert response.headers["vary"] == "HX-Request"


def test_the_first_step_asks_who_you_are(pages) -> None:
    page = Page(pages.get("/contact").text)

    assert page.step == "about-you"
    assert page.names == {"firstName", "lastName", "email", "phone", "jobTitle"}
    assert page.text("step-heading") == "Step 1 of 3: About you"
    current = page.one("li", **{"aria-current": "step"})
    assert "steps__item--current" in (current["class"] or "")
    assert [b["value"] for b in page.find("button")] == ["next"]  # no Back on the first step
    assert "autofocus" not in page.one("h2", id="step-heading")  # a fresh page keeps focus


def test_a_form_page_is_accessible_markup(pages) -> None:
    page = Page(pages.get("/contact").text)

    assert page.one("html")["lang"] == "en"
    assert len(page.find("h1")) == 1 and len(page.find("main")) == 1
    for name, autocomplete in [
        ("email", "email"),
        ("firstName", "given-name"),
        ("lastName", "family-name"),
        ("jobTitle", "organization-title"),
        ("phone", "tel"),
    ]:
        control = page.one("input", name=name)
        assert control["id"] == name and control["autocomplete"] == autocomplete
        assert page.find("label", **{"for": name})
    assert page.one("input", name="email")["type"] == "email"
    assert page.one("input", name="phone")["type"] == "tel"
    assert page.one("input", name="phone")["aria-describedby"] == "phone-hint"
    assert "required" in page.one("input", name="email")
    assert "required" not in page.one("input", name="phone")
    assert "(required)" in page.text("field-email")
    assert page.one("form", method="post")["aria-labelledby"] == "step-heading"


def test_the_company_step_has_country_as_a_select_of_iso_codes_sorted_by_name(pages) -> None:
    page = page_at(pages, "/contact", "company")

    assert page.names == {"company", "country"}
    assert page.text("step-heading") == "Step 2 of 3: Your company"
    assert page.one("input", name="company")["autocomplete"] == "organization"
    assert page.one("select", name="country")["autocomplete"] == "country"
    html = pages.get("/contact").text
    assert html.index('value="AX"') < html.index('value="AL"')  # Åland before Albania
    assert re.search(r'<option value="GB"[^>]*>United Kingdom</option>', html)


def test_service_interests_are_checkboxes_in_a_fieldset(pages) -> None:
    page = page_at(pages, "/contact", "project")

    boxes = page.find("input", type="checkbox", name="serviceInterests")
    assert [box["value"] for box in boxes][:2] == ["data_collection", "data_preparation"]
    assert len(boxes) == 6
    assert "Services of interest" in page.text("field-serviceInterests")
    assert page.find("fieldset") and page.find("legend")
    assert page.find("textarea", name="projectDetails")


def test_the_last_step_asks_for_marketing_consent_unticked(pages) -> None:
    page = page_at(pages, "/contact", "project")

    box = page.one("input", name="marketingConsent")
    assert (box["type"], box["value"], box["id"]) == ("checkbox", "true", "marketingConsent")
    assert "checked" not in box and "required" not in box
    assert page.text("field-marketingConsent") == (
        "I agree to receive marketing e-mails. See our privacy policy (version 2026-11)."
    )
    assert page.find("label", **{"for": "marketingConsent"})


@pytest.mark.parametrize(
    ("path", "own", "others"),
    [
        ("/contact", {"referralSource"}, {"budget", "preferredDate"}),
        ("/demo-request", {"preferredDate", "preferredTime", "timeZone"}, {"budget"}),
        ("/quote-request", {"budget", "timeline"}, {"preferredDate"}),
    ],
)
def test_each_form_asks_its_own_project_fields_last(pages, path, own, others) -> None:
    page = page_at(pages, path, "project")

    assert own | {"serviceInterests", "projectDetails", "marketingConsent"} <= page.names
    assert not others & page.names
    assert [b["value"] for b in page.find("button")] == ["next", "back"]
    assert ">Send</button>" in pages.get(path).text


def test_demo_and_quote_forms_show_their_own_widgets(pages) -> None:
    demo = page_at(pages, "/demo-request", "project")
    quote = page_at(pages, "/quote-request", "project")

    assert demo.one("input", name="preferredDate")["type"] == "date"
    assert demo.one("input", name="preferredTime")["type"] == "time"
    assert demo.find("option", value="Europe/London")
    assert quote.find("option", value="10k_50k") and quote.find("option", value="asap")


def test_a_valid_step_leads_to_the_next_with_its_heading_focused(pages) -> None:
    response = post_step(pages, "/contact", "about-you", VALID)

    assert response.status_code == 303 and response.headers["location"] == "/contact"
    page = Page(pages.get("/contact").text)
    assert page.step == "company"
    assert "autofocus" in page.one("h2", id="step-heading")
    done = page.find("li", **{"class": "steps__item steps__item--done"})
    assert len(done) == 1
    assert rows() == []  # a step is a draft, never a submission


def test_a_step_with_errors_re_renders_with_messages_next_to_the_fields(pages) -> None:
    response = post_step(pages, "/contact", "about-you", INVALID)

    assert response.status_code == 422
    page = Page(response.text)
    assert "<html" in response.text and page.step == "about-you"
    for name, message in [
        ("email", "Enter a valid e-mail address"),
        ("phone", "Enter a valid phone number"),
    ]:
        assert message in page.text(f"{name}-error")
        assert message in page.text(f"field-{name}")
        control = page.one("input", name=name)
        assert control["aria-invalid"] == "true"
        assert f"{name}-error" in (control["aria-describedby"] or "").split()
    summary = {link["href"] for link in page.find("a") if link["href"].startswith("#")}
    assert {"#email", "#phone"} <= summary and "#country" not in summary
    assert "autofocus" in page.one("div", **{"class": "error-summary"})
    assert "autofocus" not in page.one("h2", id="step-heading")
    assert page.text("main").count("Choose a country") == 0  # the next step's business
    assert rows() == []


def test_the_company_step_checks_the_country(pages) -> None:
    walk_to(pages, "/contact", "company")

    page = Page(post_step(pages, "/contact", "company", INVALID).text)

    assert "Choose a country from the list." in page.text("country-error")
    assert page.one("select", name="country")["aria-invalid"] == "true"


def test_a_step_with_errors_keeps_what_was_typed(pages) -> None:
    page = Page(post_step(pages, "/contact", "about-you", INVALID).text)

    assert page.one("input", name="email")["value"] == "ada@"
    assert page.one("input", name="phone")["value"] == "+1 (555) 123-4567"
    assert page.one("input", name="firstName")["value"] == "Ada"


def test_a_valid_phone_is_shown_back_normalised(pages) -> None:
    post_step(pages, "/contact", "about-you", VALID)
    post_form(pages, "/contact", {"step": "company", "action": "back"})

    page = Page(pages.get("/contact").text)

    assert page.step == "about-you"
    assert page.one("input", name="phone")["value"] == "+442079460958"


def test_back_returns_to_the_previous_step_keeping_both_steps_values(pages) -> None:
    walk_to(pages, "/contact", "company")

    response = post_form(
        pages, "/contact", {"step": "company", "action": "back", "company": "Half typed"}
    )

    assert response.status_code == 303
    page = Page(pages.get("/contact").text)
    assert page.step == "about-you"
    assert page.one("input", name="email")["value"] == "ada@example.com"
    walk_to(pages, "/contact", "company")
    page = Page(pages.get("/contact").text)
    assert page.one("input", name="company")["value"] == "Half typed"


def test_back_needs_no_valid_fields(pages) -> None:
    walk_to(pages, "/contact", "company")

    response = post_form(pages, "/contact", {"step": "company", "action": "back", "country": "?"})

    assert response.status_code == 303


def test_a_missing_service_interest_marks_every_box_invalid(pages) -> None:
    walk_to(pages, "/contact", "project")
    fields = {key: value for key, value in VALID.items() if key != "serviceInterests"}

    page = Page(post_step(pages, "/contact", "project", fields).text)

    boxes = page.find("input", name="serviceInterests")
    assert all(box["aria-invalid"] == "true" for box in boxes)
    assert all(box["aria-describedby"] == "serviceInterests-error" for box in boxes)
    assert "Services of interest is required." in page.text("serviceInterests-error")
    assert rows() == []


def test_typed_markup_is_escaped_on_re_render(pages) -> None:
    fields = INVALID | {"firstName": '"><script>alert(1)</script>'}

    response = post_step(pages, "/contact", "about-you", fields)

    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_all_steps_store_one_submission_and_redirect_to_thanks(client) -> None:
    walk_to(client, "/contact", "project")

    response = post_step(client, "/contact", "project", VALID | {"marketingConsent": "true"})

    assert response.status_code == 303
    assert response.headers["location"] == "/thanks"
    stored = Submission.select().output(load_json=True).run_sync()
    assert len(stored) == 1
    assert stored[0]["form_type"] == "contact"
    assert stored[0]["status"] in SUBMISSION_STATUSES
    assert stored[0]["raw_fields"]["email"] == "ada@example.com"
    assert stored[0]["raw_fields"]["phone"] == "+442079460958"
    assert stored[0]["contact_properties"]["marketing_consent"] == "true"
    assert stored[0]["contact_properties"]["privacy_policy_version"] == "2026-11"


def test_an_unticked_consent_box_sends_no_consent(client) -> None:
    walk_to(client, "/contact", "project")

    post_step(client, "/contact", "project", VALID)

    stored = Submission.select(Submission.contact_properties).output(load_json=True).run_sync()
    assert "marketing_consent" not in stored[0]["contact_properties"]


def test_the_whole_form_in_one_post_is_still_accepted(client) -> None:
    response = post_form(client, "/contact", VALID)

    assert response.status_code == 303 and response.headers["location"] == "/thanks"
    assert len(rows()) == 1


def test_the_whole_form_with_errors_shows_the_first_step_to_fix(pages) -> None:
    response = post_form(pages, "/contact", VALID | {"country": "Narnia"})

    assert response.status_code == 422
    page = Page(response.text)
    assert page.step == "company"
    assert "Choose a country from the list." in page.text("country-error")
    assert page.one("input", name="company")["value"] == "Analytical Engines"
    assert rows() == []


def test_the_thanks_page_confirms_without_showing_the_submission(client) -> None:
    post_form(client, "/contact", VALID)
    row_id = str(Submission.select(Submission.id).first().run_sync()["id"])

    response = client.get("/thanks")

    assert "Thank you — we have your request" in response.text
    assert row_id not in response.text and VALID["email"] not in response.text


def test_the_last_step_carries_the_honeypot_out_of_reach(pages) -> None:
    first = Page(pages.get("/contact").text)
    last = page_at(pages, "/contact", "project")

    assert not first.find("input", name="website")
    trap = last.one("input", name="website")
    assert trap["tabindex"] == "-1" and trap["autocomplete"] == "off"
    assert last.one("div", **{"class": "hp-field"})["aria-hidden"] == "true"
    assert not last.find("script", src="/static/recaptcha.js")  # reCAPTCHA is off


def test_a_filled_honeypot_looks_like_success_and_stores_nothing(client) -> None:
    walk_to(client, "/contact", "project")

    response = post_step(client, "/contact", "project", VALID, website="https://spam.example")

    assert response.status_code == 303 and response.headers["location"] == "/thanks"
    assert rows() == []


def test_a_rate_limited_visitor_is_told_on_the_last_step(client, monkeypatch) -> None:
    from settings import get_settings

    monkeypatch.setattr(get_settings(), "submission_rate_limit", 1)
    post_form(client, "/contact", VALID)
    client.cookies.delete("leadsync_visitor")  # the same network, not the same visitor
    walk_to(client, "/contact", "project")

    response = post_step(client, "/contact", "project", VALID)

    assert response.status_code == 429 and response.headers["retry-after"]
    page = Page(response.text)
    assert page.step == "project"
    assert "Too many submissions from your network." in page.text("main")
    assert len(rows()) == 1


def test_with_recaptcha_on_the_last_step_fetches_a_token(pages, monkeypatch) -> None:
    from settings import get_settings

    monkeypatch.setattr(get_settings(), "recaptcha_secret", "secret")
    monkeypatch.setattr(get_settings(), "recaptcha_site_key", "site-key")

    first = Page(pages.get("/contact").text)
    last = page_at(pages, "/contact", "project")

    assert first.find("script", src="https://www.google.com/recaptcha/api.js?render=site-key")
    assert "data-recaptcha-site-key" not in first.one("form", method="post")
    assert last.one("form", method="post")["data-recaptcha-site-key"] == "site-key"
    assert last.one("input", name="recaptchaToken")["type"] == "hidden"


def test_an_htmx_step_with_errors_returns_the_form_fragment_with_200(pages) -> None:
    response = post_step(pages, "/contact", "about-you", INVALID, headers=HTMX)

    assert response.status_code == 200
    assert "<html" not in response.text and "<main" not in response.text
    assert response.text.lstrip().startswith("<title>Error: Step 1 of 3: About you")
    assert response.headers["vary"] == "HX-Request"
    assert "Enter a valid e-mail address" in Page(response.text).text("email-error")
    assert rows() == []


def test_an_htmx_step_swaps_in_the_next_step_and_focuses_its_heading(pages) -> None:
    response = post_step(pages, "/contact", "about-you", VALID, headers=HTMX)

    assert response.status_code == 200
    page = Page(response.text)
    assert response.text.lstrip().startswith("<title>Step 2 of 3: Your company – Contact us")
    assert page.step == "company" and page.find("form")
    assert "autofocus" in page.one("h2", id="step-heading")
    assert "leadsync_draft_contact" in response.headers["set-cookie"]


def test_an_htmx_post_that_succeeds_redirects_with_hx_redirect(client) -> None:
    walk_to(client, "/contact", "project")

    response = post_step(client, "/contact", "project", VALID, headers=HTMX)

    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/thanks"
    assert len(rows()) == 1


def test_an_htmx_get_still_gets_the_whole_page(pages) -> None:
    response = pages.get("/contact", headers=HTMX)

    assert "<html" in response.text and "<h1>" in response.text


def test_the_form_posts_itself_with_htmx_and_checks_each_field_inline(pages) -> None:
    page = Page(pages.get("/contact").text)

    form = page.one("form")
    assert (form["method"], form["action"], form["hx-post"]) == ("post", "/contact", "/contact")
    assert (form["hx-target"], form["hx-swap"]) == ("this", "outerHTML")
    wrapper = page.one("div", id="field-email")
    assert wrapper["hx-post"] == "/contact/validate/email"
    assert wrapper["hx-include"] == "closest form"
    assert wrapper["hx-swap"] == "outerHTML"
    assert wrapper["hx-sync"] == "this:replace"  # autofilled fields are each checked


def test_the_back_button_skips_browser_validation_and_comes_after_continue(pages) -> None:
    page = page_at(pages, "/contact", "company")

    buttons = page.find("button")
    assert [b["value"] for b in buttons] == ["next", "back"]  # Enter goes forward
    assert "formnovalidate" in buttons[1] and buttons[1]["name"] == "action"


def test_inline_validation_returns_the_message_for_a_bad_email(pages) -> None:
    token = token_from(pages)

    response = pages.post(
        "/contact/validate/email",
        data={"email": "ada@", "csrf_token": token},
        headers=HTMX,
    )

    assert response.status_code == 200
    page = Page(response.text)
    assert response.text.lstrip().startswith('<div class="field field--error" id="field-email"')
    assert "Enter a valid e-mail address" in page.text("email-error")
    assert page.one("input", name="email")["aria-invalid"] == "true"


def test_inline_validation_of_a_good_field_shows_no_message(pages) -> None:
    token = token_from(pages)

    response = pages.post(
        "/contact/validate/email", data={"email": "ada@example.com", "csrf_token": token}
    )

    page = Page(response.text)
    assert not page.find("p", id="email-error")
    assert "aria-invalid" not in page.one("input", name="email")


def test_inline_validation_shows_a_good_phone_normalised(pages) -> None:
    token = token_from(pages)

    response = pages.post(
        "/contact/validate/phone",
        data={"phone": "020 7946 0958", "country": "GB", "csrf_token": token},
        headers=HTMX,
    )

    page = Page(response.text)
    assert page.one("input", name="phone")["value"] == "+442079460958"
    assert not page.find("p", id="phone-error")


def test_inline_validation_reads_the_country_from_the_draft(pages) -> None:
    walk_to(pages, "/contact", "project", VALID | {"phone": ""})
    token = token_from(pages)

    response = pages.post(
        "/contact/validate/phone", data={"phone": "020 7946 0958", "csrf_token": token}
    )

    assert Page(response.text).one("input", name="phone")["value"] == "+442079460958"


def test_inline_validation_of_the_consent_box_keeps_it_ticked(pages) -> None:
    token = token_from(pages)

    response = pages.post(
        "/contact/validate/marketingConsent",
        data={"marketingConsent": "true", "csrf_token": token},
    )

    assert "checked" in Page(response.text).one("input", name="marketingConsent")


def test_inline_validation_of_an_unknown_field_is_not_found(pages) -> None:
    token = token_from(pages)

    response = pages.post("/contact/validate/budget", data={"csrf_token": token})

    assert response.status_code == 404


def test_inline_validation_needs_the_csrf_token_too(pages) -> None:
    token_from(pages)

    response = pages.post("/contact/validate/email", data={"email": "ada@"}, headers=HTMX)

    assert response.status_code == 403
    assert EXPIRED_MESSAGE in response.text


def test_a_post_without_the_csrf_token_is_refused_and_saves_nothing(pages) -> None:
    token_from(pages)

    response = pages.post("/contact", data=VALID, follow_redirects=False)

    assert response.status_code == 403
    assert EXPIRED_MESSAGE in response.text
    assert rows() == []


@pytest.mark.parametrize("forge", ["other_secret", "tampered"])
def test_a_forged_or_tampered_token_is_refused(pages, forge: str) -> None:
    from itsdangerous import URLSafeTimedSerializer

    if forge == "other_secret":
        token = URLSafeTimedSerializer("not-the-app-secret", salt="web.csrf").dumps("x")
    else:
        good = token_from(pages)
        token = ("B" if good[0] != "B" else "C") + good[1:]
    pages.cookies.set(COOKIE_NAME, token)

    response = post_form(pages, "/contact", VALID, token=token)

    assert response.status_code == 403
    assert rows() == []


def test_the_json_api_is_not_blocked_by_csrf(client) -> None:
    response = client.post("/api/contact", json=VALID)

    assert response.status_code == 202
    assert len(rows()) == 1


def test_a_multipart_post_with_the_token_is_accepted(client) -> None:
    token = token_from(client)
    files = {"attachment": ("notes.txt", b"ignored by the form", "text/plain")}

    response = client.post(
        "/contact", data=VALID | {"csrf_token": token}, files=files, follow_redirects=False
    )

    assert response.status_code == 303
    assert len(rows()) == 1
