"""Property-based: whatever is posted, the answer is 2xx, 3xx or 4xx, never 5xx, and only an
accepted submission adds a row. JSON values of every type and size at the API; arbitrary
form fields, with a valid CSRF token, at the HTML forms."""

from __future__ import annotations

import json
import string
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from actors.services import property_map
from settings import get_settings
from storage.tables import Submission
from web.api import API_FORMS
from web.csrf import COOKIE_NAME, FORM_FIELD
from web.protection import HONEYPOT_FIELD, honeypot_filled

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
VALID = {
    "firstName": "Jane",
    "lastName": "Smith",
    "email": "jane.smith@example.com",
    "company": "Tech Solutions Inc",
    "country": "GB",
    "serviceInterests": ["data_preparation"],
}
JSON = {"content-type": "application/json"}
HTML_FORMS = {
    "/contact": "contact",
    "/demo-request": "demo_request",
    "/quote-request": "quote_request",
}

SPELLINGS = sorted(
    {spelling for spec in property_map().fields.values() for spelling in (spec.name, *spec.aliases)}
)
#: Values the cleaners accept, so that fuzzed bodies are sometimes valid and get stored.
GOOD_VALUES = [
    "GB",
    "United States",
    "+44 20 7946 0958",
    "2031-05-01",
    "14:30",
    "Europe/London",
    *(value for options in property_map().picklists.values() for value in options),
    *(label for options in property_map().picklists.values() for label in options.values()),
]

text = st.text(max_size=300) | st.text(string.printable, min_size=200, max_size=6000)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | text | st.sampled_from(GOOD_VALUES)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
names = st.sampled_from([*SPELLINGS, HONEYPOT_FIELD]) | st.text(max_size=12)
changes = st.dictionaries(names, json_values, max_size=6)
json_bodies = changes | changes.map(lambda changed: VALID | changed)


def _rows() -> int:
    return Submission.count().run_sync()


@pytest.fixture
def client(db: None, monkeypatch) -> Iterator[TestClient]:
    """The app without its worker (not entered: no lifespan), syncs dropped, no rate limit."""
    from web.app import create_app

    monkeypatch.setattr("actors.sync.sync_submission.send", lambda submission_id: None)
    monkeypatch.setattr(get_settings(), "submission_rate_limit", 0)
    yield TestClient(create_app(), base_url="http://127.0.0.1:8000")


@FUZZ
@given(path=st.sampled_from(sorted(API_FORMS)), body=json_bodies)
def test_the_api_never_fails_on_any_json(client: TestClient, path: str, body: dict) -> None:
    before = _rows()

    # allow_nan: NaN and Infinity are sent as Python writes them, for the API to refuse.
    response = client.post(path, content=json.dumps(body), headers=JSON)

    event(f"answered {response.status_code}")
    assert response.status_code in (202, 400, 413, 422), response.text
    answer = response.json()
    assert set(answer) == {"success", "message", "errors", "data"}
    assert answer["success"] is (response.status_code == 202)
    stored = response.status_code == 202 and not honeypot_filled(body)
    assert _rows() == before + stored


@FUZZ
@given(path=st.sampled_from(sorted(API_FORMS)), body=st.binary(max_size=2000) | text)
def test_the_api_never_fails_on_any_bytes(client: TestClient, path: str, body) -> None:
    before = _rows()

    response = client.post(path, content=body, headers=JSON)

    assert response.status_code in (400, 413, 422), response.text
    assert response.json()["success"] is False
    assert _rows() == before


form_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
form_fields = st.lists(
    st.tuples(
        st.sampled_from(SPELLINGS) | form_text.filter(lambda name: name != HONEYPOT_FIELD),
        form_text | st.sampled_from(GOOD_VALUES),
    ),
    max_size=16,
)
valid_pairs = [(name, value) for name, value in VALID.items() if isinstance(value, str)] + [
    ("serviceInterests", "data_preparation")
]


@FUZZ
@given(
    path=st.sampled_from(sorted(HTML_FORMS)),
    fields=form_fields | form_fields.map(lambda fields: valid_pairs + fields),
    htmx=st.booleans(),
)
def test_the_html_forms_never_fail_on_any_fields(
    client: TestClient, path: str, fields: list[tuple[str, str]], htmx: bool
) -> None:
    if COOKIE_NAME not in client.cookies:
        assert client.get(path).status_code == 200
    body = urllib.parse.urlencode([(FORM_FIELD, client.cookies[COOKIE_NAME]), *fields])
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if htmx:
        headers["HX-Request"] = "true"
    before = _rows()

    response = client.post(path, content=body, headers=headers, follow_redirects=False)

    event(f"answered {response.status_code}")
    assert response.status_code < 500, response.text
    assert response.status_code != 403, "the CSRF token was refused"
    if response.status_code >= 400:
        assert _rows() == before
