"""The HTML forms: rendered accessibly, posted with or without htmx, checked inline, and
guarded by the CSRF token. Every post goes through `accept_submission`, so rows are counted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from storage.tables import SUBMISSION_STATUSES, Submission
from web.csrf import COOKIE_NAME, EXPIRED_MESSAGE

VALID = {
    "email": "ada@example.com",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "company": "Analytical Engines",
    "country": "GB",
    "serviceInterests": ["data_collection", "data_annotation"],
    "phone": "+44 20 7946 0958",
    "projectDetails": "Label 10,000 images.",
}
INVALID = VALID | {"email": "ada@", "phone": "+1 (555) 123-4567", "country": "Narnia"}
HTMX = {"HX-Request": "true"}
VOID_TAGS = frozenset({"input", "meta", "link", "br", "img", "hr", "source", "area", "col"})


class Page(HTMLParser):
    """Just enough of a DOM for assertions: every start tag, and the text inside each id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._open: list[tuple[str, str | None]] = []
        self._texts: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in VOID_TAGS:
            self._open.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, element_id in self._open:
            if element_id:
                self._texts[element_id] = self._texts.get(element_id, "") + data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            found
            for name, found in self.tags
            if name == tag and all(found.get(key) == value for key, value in attrs.items())
        ]

    def one(self, tag: str, **attrs: str) -> dict[str, str | None]:
        matches = self.find(tag, **attrs)
        assert len(matches) == 1, f"expected one <{tag} {attrs}>, found {len(matches)}"
        return matches[0]

    def text(self, element_id: str) -> str:
        return " ".join(self._texts.get(element_id, "").split())


@pytest.fixture
def pages(db: None) -> Iterator[TestClient]:
    """The app as `client` serves it, minus the HubSpot sandbox set-up (about a second a
    test): for tests that store nothing, so nothing is synced."""
    from web.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def rows() -> list[dict]:
    return Submission.select(Submission.form_type, Submission.status).run_sync()


def token_from(client, path: str = "/contact") -> str:
    page = Page(client.get(path).text)
    return page.one("input", name="csrf_token")["value"] or ""


def post_form(client, path: str, fields: dict, headers: dict | None = None, token: str = ""):
    token = token or token_from(client, path)
    return client.post(
        path, data=fields | {"csrf_token": token}, headers=headers, follow_redirects=False
    )


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


def test_a_form_page_is_accessible_markup(pages) -> None:
    page = Page(pages.get("/contact").text)

    assert page.one("html")["lang"] == "en"
    assert len(page.find("h1")) == 1 and len(page.find("main")) == 1
    for name, autocomplete in [
        ("email", "email"),
        ("firstName", "given-name"),
        ("lastName", "family-name"),
        ("company", "organization"),
        ("jobTitle", "organization-title"),
        ("phone", "tel"),
    ]:
        control = page.one("input", name=name)
        assert control["id"] == name and control["autocomplete"] == autocomplete
        assert page.find("label", **{"for": name})
    assert page.one("input", name="email")["type"] == "email"
    assert page.one("input", name="phone")["type"] == "tel"
    assert "required" in page.one("input", name="email")
    assert "required" not in page.one("input", name="phone")
    assert page.one("select", name="country")["autocomplete"] == "country"
    assert page.find("textarea", name="projectDetails")
    assert "(required)" in page.text("field-email")


def test_country_is_a_select_of_iso_codes_sorted_by_name(pages) -> None:
    page = Page(pages.get("/contact").text)

    assert page.find("option", value="GB") and page.find("option", value="DE")
    html = pages.get("/contact").text
    assert html.index('value="AX"') < html.index('value="AL"')  # Åland before Albania
    assert re.search(r'<option value="GB"[^>]*>United Kingdom</option>', html)


def test_service_interests_are_checkboxes_in_a_fieldset(pages) -> None:
    page = Page(pages.get("/contact").text)

    boxes = page.find("input", type="checkbox", name="serviceInterests")
    assert [box["value"] for box in boxes][:2] == ["data_collection", "data_preparation"]
    assert len(boxes) == 6
    assert "Services of interest" in page.text("field-serviceInterests")
    assert page.find("fieldset") and page.find("legend")


def test_demo_and_quote_forms_show_their_own_fields(pages) -> None:
    demo = Page(pages.get("/demo-request").text)
    quote = Page(pages.get("/quote-request").text)

    assert demo.one("input", name="preferredDate")["type"] == "date"
    assert demo.one("input", name="preferredTime")["type"] == "time"
    assert demo.find("option", value="Europe/London")
    assert quote.find("option", value="10k_50k") and quote.find("option", value="asap")
    assert not Page(pages.get("/contact").text).find("select", name="budget")


def test_a_valid_post_stores_one_submission_and_redirects_to_thanks(client) -> None:
    response = post_form(client, "/contact", VALID)

    assert response.status_code == 303
    assert response.headers["location"] == "/thanks"
    stored = rows()
    assert len(stored) == 1
    assert stored[0]["form_type"] == "contact"
    assert stored[0]["status"] in SUBMISSION_STATUSES


def test_the_thanks_page_confirms_without_showing_the_submission(client) -> None:
    post_form(client, "/contact", VALID)
    row_id = str(Submission.select(Submission.id).first().run_sync()["id"])

    response = client.get("/thanks")

    assert "Thank you — we have your request" in response.text
    assert row_id not in response.text and VALID["email"] not in response.text


def test_an_invalid_post_re_renders_with_messages_next_to_the_fields(pages) -> None:
    response = post_form(pages, "/contact", INVALID)

    assert response.status_code == 422
    page = Page(response.text)
    assert "<html" in response.text
    for name, message in [
        ("email", "Enter a valid e-mail address"),
        ("phone", "Enter a valid phone number"),
        ("country", "Choose a country from the list."),
    ]:
        assert message in page.text(f"{name}-error")
        assert message in page.text(f"field-{name}")
        control = page.one("select" if name == "country" else "input", name=name)
        assert control["aria-invalid"] == "true"
        assert f"{name}-error" in (control["aria-describedby"] or "").split()
    summary = {link["href"] for link in page.find("a") if link["href"].startswith("#")}
    assert {"#email", "#phone", "#country"} <= summary
    assert rows() == []


def test_an_invalid_post_keeps_what_was_typed(pages) -> None:
    page = Page(post_form(pages, "/contact", INVALID).text)

    assert page.one("input", name="email")["value"] == "ada@"
    assert page.one("input", name="phone")["value"] == "+1 (555) 123-4567"
    assert page.one("input", name="firstName")["value"] == "Ada"
    checked = [
        box["value"] for box in page.find("input", name="serviceInterests") if "checked" in box
    ]
    assert checked == ["data_collection", "data_annotation"]
    assert "Label 10,000 images." in page.text("projectDetails")


def test_a_missing_service_interest_marks_every_box_invalid(pages) -> None:
    fields = {key: value for key, value in VALID.items() if key != "serviceInterests"}

    page = Page(post_form(pages, "/contact", fields).text)

    boxes = page.find("input", name="serviceInterests")
    assert all(box["aria-invalid"] == "true" for box in boxes)
    assert all(box["aria-describedby"] == "serviceInterests-error" for box in boxes)
    assert "Services of interest is required." in page.text("serviceInterests-error")


def test_typed_markup_is_escaped_on_re_render(pages) -> None:
    response = post_form(pages, "/contact", INVALID | {"company": '"><script>alert(1)</script>'})

    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_an_htmx_post_with_errors_returns_the_form_fragment_with_200(pages) -> None:
    response = post_form(pages, "/contact", INVALID, headers=HTMX)

    assert response.status_code == 200
    assert "<html" not in response.text and "<main" not in response.text
    assert response.text.lstrip().startswith("<form")
    assert response.headers["vary"] == "HX-Request"
    assert "Enter a valid e-mail address" in Page(response.text).text("email-error")
    assert rows() == []


def test_an_htmx_post_that_succeeds_redirects_with_hx_redirect(client) -> None:
    response = post_form(client, "/contact", VALID, headers=HTMX)

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
