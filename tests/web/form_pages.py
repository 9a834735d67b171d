"""Helpers for the HTML form tests: a tiny DOM, CSRF-token posts, and walking the steps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from html.parser import HTMLParser

from starlette.testclient import TestClient

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
HTMX = {"HX-Request": "true"}
#: form path -> the step keys, in order (web/steps.py).
STEP_KEYS = ("about-you", "company", "project")
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

    @property
    def step(self) -> str | None:
        """The key of the step shown (its hidden input), None when no form is shown."""
        found = self.find("input", name="step")
        return found[0]["value"] if found else None

    @property
    def names(self) -> set[str]:
        """The names of the visible controls."""
        return {
            str(attrs["name"])
            for tag, attrs in self.tags
            if tag in {"input", "select", "textarea"}
            and attrs.get("type") != "hidden"
            and attrs.get("name")
            and attrs.get("name") != "website"
        }


@contextlib.contextmanager
def app_client() -> Iterator[TestClient]:
    """The app as the `client` fixture serves it, minus the HubSpot sandbox set-up (about a
    second a test): for tests whose submissions need not reach HubSpot."""
    from actors.broker import redis_client
    from web.app import create_app

    redis_client().flushall()  # the per-IP submission limit starts afresh
    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def token_from(client: TestClient, path: str = "/contact") -> str:
    page = Page(client.get(path).text)
    return page.find("input", name="csrf_token")[0]["value"] or ""


def post_form(client, path: str, fields: dict, headers: dict | None = None, token: str = ""):
    token = token or token_from(client, path)
    return client.post(
        path, data=fields | {"csrf_token": token}, headers=headers, follow_redirects=False
    )


def post_step(client, path: str, step: str, fields: dict, headers: dict | None = None, **extra):
    """Post one step as its page does (its hidden `step` and the button pressed)."""
    return post_form(client, path, fields | {"step": step, "action": "next"} | extra, headers)


def walk_to(client, path: str, step: str, fields: dict = VALID) -> None:
    """Complete every step before `step` with `fields`, as a visitor without JavaScript."""
    for key in STEP_KEYS[: STEP_KEYS.index(step)]:
        response = post_step(client, path, key, fields)
        assert response.status_code == 303, Page(response.text).text("error-summary-title")
