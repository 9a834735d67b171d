"""Progressive profiling: a returning visitor, known by a signed cookie holding their last
submission's id, is not asked again for what the product holds, and can say "Not you?"."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from settings import get_settings
from storage.drafts import Draft
from storage.submissions import create_submission
from storage.tables import Submission
from tests.web.form_pages import VALID, Page, app_client, post_form, post_step
from web.profiling import VISITOR_COOKIE, VISITOR_COOKIE_MAX_AGE_S

#: Everything the profile can hold, so a returning visitor skips both first steps.
FULL = VALID | {"jobTitle": "analyst"}


@pytest.fixture
def pages(db: None) -> Iterator[TestClient]:
    with app_client() as test_client:
        yield test_client


def stored_submission(fields: dict, form_type: str = "contact") -> uuid.UUID:
    """A submission row as an earlier visit left it (not queued: nothing reaches HubSpot)."""
    return asyncio.run(
        create_submission(
            form_type=form_type,
            email=fields.get("email", ""),
            raw_fields=fields,
            contact_properties={},
            deal_properties={},
            summary={},
        )
    )


def visitor_cookie(submission_id: uuid.UUID | str, secret: str | None = None) -> str:
    serializer = URLSafeTimedSerializer(
        secret or get_settings().secret_key or "", salt="web.profiling"
    )
    return serializer.dumps(str(submission_id))


def returning(client: TestClient, fields: dict = FULL) -> TestClient:
    cookie = visitor_cookie(stored_submission(fields))
    client.cookies.set(VISITOR_COOKIE, cookie, domain=client.base_url.host)
    return client


@pytest.fixture
def no_hubspot(monkeypatch) -> None:
    """Rendering must never ask HubSpot: any call of the client fails the test."""
    from crm.client import HubSpotClient

    def refuse(*args, **kwargs):
        raise AssertionError("HubSpot was called while rendering a form")

    for name, member in vars(HubSpotClient).items():
        if callable(member) and not name.startswith("_"):
            monkeypatch.setattr(HubSpotClient, name, refuse)


def test_a_successful_submit_sets_the_visitor_cookie(client) -> None:
    response = post_form(client, "/contact", VALID)

    [row] = Submission.select(Submission.id).run_sync()
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(VISITOR_COOKIE)
    )
    assert (
        f"Max-Age={VISITOR_COOKIE_MAX_AGE_S}" in cookie and VISITOR_COOKIE_MAX_AGE_S >= 365 * 86400
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    value = client.cookies[VISITOR_COOKIE]
    assert "ada" not in value.lower()  # the id, not the e-mail
    serializer = URLSafeTimedSerializer(get_settings().secret_key, salt="web.profiling")
    assert serializer.loads(value) == str(row["id"])


def test_over_https_the_visitor_cookie_is_secure(db: None, sandbox) -> None:
    from web.app import create_app

    with TestClient(create_app(), base_url="https://leads.example") as secure:
        response = post_form(secure, "/contact", VALID)

    cookies = response.headers.get_list("set-cookie")
    assert all("Secure" in cookie for cookie in cookies if cookie.startswith(VISITOR_COOKIE))


def test_a_returning_visitor_is_asked_only_what_we_do_not_hold(pages, no_hubspot) -> None:
    page = Page(returning(pages).get("/contact").text)

    assert page.step == "project"
    assert page.text("step-heading") == "Step 1 of 1: Your project"
    assert "Welcome back, Ada." in page.text("main")
    assert not {"email", "firstName", "company", "country"} & page.names


def test_a_step_with_something_unknown_is_still_asked_for_that_only(pages) -> None:
    page = Page(returning(pages, VALID).get("/contact").text)  # no job title last time

    assert page.step == "about-you"
    assert page.names == {"jobTitle"}
    assert page.text("step-heading") == "Step 1 of 2: About you"
    assert [item["class"] for item in page.find("li")] == [
        "steps__item steps__item--current",
        "steps__item steps__item--upcoming",
    ]


def test_nothing_personal_but_the_first_name_is_shown(pages) -> None:
    html = returning(pages).get("/contact").text

    for value in ("ada@example.com", "Lovelace", "Analytical Engines", "7946", "analyst"):
        assert value not in html
    assert "Ada" in html


def test_known_values_are_merged_into_the_submission_on_the_server(client) -> None:
    returning(client)

    response = post_step(client, "/contact", "project", {"serviceInterests": "data_preparation"})

    assert response.status_code == 303
    rows = Submission.select().order_by(Submission.created_at).output(load_json=True).run_sync()
    newest = rows[-1]
    assert newest["raw_fields"]["email"] == "ada@example.com"
    assert newest["raw_fields"]["serviceInterests"] == ["data_preparation"]
    assert newest["contact_properties"]["company"] == "Analytical Engines"
    assert newest["contact_properties"]["phone"] == "+442079460958"
    # The next visit is known through the new submission, which holds everything again.
    cookie = URLSafeTimedSerializer(get_settings().secret_key, salt="web.profiling").loads(
        client.cookies[VISITOR_COOKIE]
    )
    assert cookie == str(newest["id"])


def test_posted_values_cannot_replace_what_we_hold(client) -> None:
    returning(client)

    post_step(
        client,
        "/contact",
        "project",
        {"serviceInterests": "data_preparation", "email": "mallory@example.com"},
    )

    newest = Submission.select().order_by(Submission.created_at).output(load_json=True).run_sync()
    assert newest[-1]["email"] == "ada@example.com"


def test_the_profile_serves_every_form(pages) -> None:
    page = Page(returning(pages).get("/demo-request").text)

    assert page.step == "project" and "preferredDate" in page.names


@pytest.mark.parametrize(
    "cookie",
    [
        "not-signed",
        visitor_cookie(uuid.uuid4()),  # a submission we do not hold
        visitor_cookie(uuid.uuid4(), secret="another-secret-of-enough-length"),
    ],
)
def test_an_unknown_or_forged_visitor_cookie_is_a_new_visitor(pages, cookie: str) -> None:
    pages.cookies.set(VISITOR_COOKIE, cookie)

    page = Page(pages.get("/contact").text)

    assert page.step == "about-you" and "Welcome back" not in page.text("main")


def test_a_stored_value_the_rules_now_refuse_is_asked_again(pages) -> None:
    page = Page(returning(pages, FULL | {"email": "not-an-email"}).get("/contact").text)

    assert page.names == {"email"}


def test_not_you_forgets_the_visitor_and_their_drafts(pages) -> None:
    returning(pages, VALID)
    post_step(pages, "/demo-request", "about-you", {})  # a draft for the returning visitor
    assert Draft.count().run_sync() == 1
    page = Page(pages.get("/contact").text)
    form = page.one("form", action="/contact/not-you")
    assert form["method"] == "post"
    token = page.find("input", name="csrf_token")[0]["value"]

    response = pages.post("/contact/not-you", data={"csrf_token": token}, follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/contact"
    set_cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith(f'{VISITOR_COOKIE}=""') for c in set_cookies)
    assert any(c.startswith('leadsync_draft_demo_request=""') for c in set_cookies)
    assert Draft.count().run_sync() == 0
    page = Page(pages.get("/contact").text)
    assert page.step == "about-you" and "email" in page.names
    assert "Welcome back" not in page.text("main")


def test_not_you_needs_the_csrf_token(pages) -> None:
    returning(pages)

    response = pages.post("/contact/not-you", follow_redirects=False)

    assert response.status_code == 403
    assert VISITOR_COOKIE in pages.cookies
