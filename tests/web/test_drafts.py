"""Partial progress: each completed step is kept server-side as a draft, found again through a
signed cookie, resumed in the same browser, never synced, and purged once expired."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from settings import get_settings
from storage.drafts import Draft, delete_drafts, load_draft, purge_expired_drafts, save_draft
from storage.tables import Submission
from tests.web.form_pages import VALID, Page, app_client, post_form, post_step, walk_to

COOKIE = "leadsync_draft_contact"


@pytest.fixture
def pages(db: None) -> Iterator[TestClient]:
    with app_client() as test_client:
        yield test_client


def run(coro):
    return asyncio.run(coro)


def drafts() -> list[dict]:
    return Draft.select().output(load_json=True).run_sync()


def expire_all() -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    Draft.update({Draft.expires_at: past}, force=True).run_sync()


# --- storage/drafts.py, on SQLite and PostgreSQL ---------------------------------------------


def test_a_saved_draft_loads_back_until_it_expires(any_db: str) -> None:
    # Given a draft saved for an hour
    draft_id = run(save_draft(form_type="contact", fields=VALID, step="company", ttl_s=3600))

    # Then it loads with its fields and step, for its own form only
    draft = run(load_draft(draft_id, "contact"))
    assert draft is not None
    assert (draft.fields, draft.step) == (VALID, "company")
    assert draft.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3500)
    assert run(load_draft(draft_id, "demo_request")) is None

    # When it expires, it is gone for the visitor even before the purge
    expire_all()
    assert run(load_draft(draft_id, "contact")) is None


def test_saving_again_updates_the_draft_and_renews_its_expiry(any_db: str) -> None:
    draft_id = run(save_draft(form_type="contact", fields={"a": "1"}, step="company", ttl_s=60))

    again = run(
        save_draft(
            form_type="contact", fields={"a": "2"}, step="project", ttl_s=3600, draft_id=draft_id
        )
    )

    assert again == draft_id
    [row] = drafts()
    assert (row["fields"], row["step"]) == ({"a": "2"}, "project")
    assert row["expires_at"] > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3500)


def test_an_expired_or_unknown_draft_id_gets_a_new_draft(any_db: str) -> None:
    draft_id = run(save_draft(form_type="contact", fields={}, step="company", ttl_s=60))
    expire_all()

    renewed = run(
        save_draft(form_type="contact", fields={}, step="project", ttl_s=60, draft_id=draft_id)
    )
    made_up = run(
        save_draft(form_type="contact", fields={}, step="project", ttl_s=60, draft_id=uuid.uuid4())
    )

    assert len({draft_id, renewed, made_up}) == 3


def test_purging_deletes_only_expired_drafts(any_db: str) -> None:
    old = run(save_draft(form_type="contact", fields={}, step="company", ttl_s=60))
    expire_all()
    live = run(save_draft(form_type="contact", fields={}, step="company", ttl_s=60))

    assert run(purge_expired_drafts()) == 1

    assert [row["id"] for row in drafts()] == [live]
    assert old != live
    assert run(purge_expired_drafts()) == 0


def test_deleting_drafts(any_db: str) -> None:
    ids = [run(save_draft(form_type="contact", fields={}, step="x", ttl_s=60)) for _ in range(3)]

    run(delete_drafts(*ids[:2]))
    run(delete_drafts())

    assert [row["id"] for row in drafts()] == ids[2:]


# --- The forms ------------------------------------------------------------------------------


def test_a_completed_step_is_saved_and_the_browser_holds_only_a_signed_id(pages) -> None:
    response = post_step(pages, "/contact", "about-you", VALID)

    [draft] = drafts()
    assert draft["form_type"] == "contact" and draft["step"] == "company"
    assert draft["fields"]["email"] == "ada@example.com"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={int(get_settings().draft_ttl)}" in cookie
    assert "Secure" not in cookie  # plain http in the tests
    value = pages.cookies[COOKIE]
    assert "ada" not in value.lower()
    assert URLSafeTimedSerializer(get_settings().secret_key, salt="web.drafts").loads(value) == str(
        draft["id"]
    )


def test_a_step_with_errors_saves_nothing(pages) -> None:
    post_step(pages, "/contact", "about-you", VALID | {"email": "ada@"})

    assert drafts() == []
    assert COOKIE not in pages.cookies


def browser(client: TestClient, cookies: dict[str, str] | None = None) -> TestClient:
    """Another browser on the same app (no second worker): with `cookies`, the same one
    coming back later."""
    other = TestClient(client.app, base_url=str(client.base_url))
    other.cookies.update(cookies or {})
    return other


def test_a_visitor_who_comes_back_resumes_at_the_step_reached(pages) -> None:
    walk_to(pages, "/contact", "project")

    later = browser(pages, dict(pages.cookies))  # the same browser, another day
    page = Page(later.get("/contact").text)

    assert page.step == "project"
    assert page.text("step-heading") == "Step 3 of 3: Your project"
    assert "autofocus" in page.one("h2", id="step-heading")
    post_form(later, "/contact", {"step": "project", "action": "back"})
    page = Page(later.get("/contact").text)
    assert page.one("input", name="company")["value"] == "Analytical Engines"


def test_going_back_shows_the_saved_values(pages) -> None:
    walk_to(pages, "/contact", "project")

    post_form(pages, "/contact", {"step": "project", "action": "back"})
    page = Page(pages.get("/contact").text)

    assert page.step == "company"
    assert page.one("input", name="company")["value"] == "Analytical Engines"
    assert "selected" in page.one("option", value="GB")


def test_another_browser_starts_afresh(pages) -> None:
    walk_to(pages, "/contact", "project")

    page = Page(browser(pages).get("/contact").text)

    assert page.step == "about-you"
    assert page.one("input", name="email")["value"] == ""


def test_each_form_keeps_its_own_draft(pages) -> None:
    walk_to(pages, "/contact", "project")

    assert Page(pages.get("/demo-request").text).step == "about-you"
    assert Page(pages.get("/contact").text).step == "project"


@pytest.mark.parametrize("forge", ["unsigned", "other_secret", "another_salt"])
def test_a_forged_draft_cookie_is_ignored(pages, forge: str) -> None:
    walk_to(pages, "/contact", "project")
    draft_id = str(drafts()[0]["id"])
    value = {
        "unsigned": draft_id,
        "other_secret": URLSafeTimedSerializer("x" * 32, salt="web.drafts").dumps(draft_id),
        "another_salt": URLSafeTimedSerializer(
            get_settings().secret_key, salt="web.profiling"
        ).dumps(draft_id),
    }[forge]

    page = Page(browser(pages, {COOKIE: value}).get("/contact").text)

    assert page.step == "about-you"


def test_an_expired_draft_is_not_resumed(pages) -> None:
    walk_to(pages, "/contact", "project")
    expire_all()

    page = Page(pages.get("/contact").text)

    assert page.step == "about-you" and page.one("input", name="email")["value"] == ""


def test_a_draft_is_never_a_submission_and_the_final_submit_deletes_it(client, sandbox) -> None:
    walk_to(client, "/contact", "project")
    assert Submission.count().run_sync() == 0

    response = post_step(client, "/contact", "project", VALID)

    assert response.status_code == 303
    assert drafts() == []
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert COOKIE not in client.cookies
    [row] = Submission.select().output(load_json=True).run_sync()
    assert row["raw_fields"]["company"] == "Analytical Engines"  # every step's answers


def test_abandoned_drafts_never_reach_hubspot(client, sandbox) -> None:
    walk_to(client, "/contact", "project")
    expire_all()

    assert run(purge_expired_drafts()) == 1
    assert sandbox.contacts() == [] and Submission.count().run_sync() == 0
