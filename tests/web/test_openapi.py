"""The OpenAPI document: valid, generated from the mapping, and true to the endpoints."""

from __future__ import annotations

import jsonschema
import openapi_spec_validator
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from starlette.testclient import TestClient

from actors.services import property_map
from settings import get_settings
from web.api import API_FORMS, json_type_error
from web.app import create_app
from web.openapi import openapi_document
from web.protection import HONEYPOT_FIELD, RECAPTCHA_TOKEN_FIELD, honeypot_filled

_APP = create_app()


async def _without_lifespan(scope, receive, send):
    """The app minus start-up: the `db` fixture migrates, and no worker is wanted."""
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan")  # before any message: servers read "unsupported"
    await _APP(scope, receive, send)


SCHEMATHESIS_CONFIG = {
    "generation": {"max-examples": 50, "database": "none"},
    # Only shapes are schema: a well-formed phone number may still not exist. 422 says so,
    # and is documented; the rest are schemathesis' defaults.
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
        }
    },
}
schema = schemathesis.openapi.from_asgi(
    "/api/openapi.json", _without_lifespan, config=SchemathesisConfig.from_dict(SCHEMATHESIS_CONFIG)
)


@pytest.fixture
def quiet(db: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Syncs recorded instead of queued, and no rate limit: every case comes from one IP."""
    queued: list[str] = []
    monkeypatch.setattr("actors.sync.sync_submission.send", queued.append)
    monkeypatch.setattr(get_settings(), "submission_rate_limit", 0)
    return queued


@schema.include(tag="forms").parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_form_endpoints_do_what_the_document_says(case, quiet: list[str]) -> None:
    response = case.call_and_validate()

    if response.status_code == 202 and not honeypot_filled(case.body):
        assert response.json()["data"]["submission_id"] in quiet


def _document(**settings_changes) -> dict:
    return openapi_document(property_map(), get_settings().model_copy(update=settings_changes))


def test_the_document_is_valid_openapi_3_1() -> None:
    document = _document(recaptcha_secret="s", submission_rate_limit=5)

    openapi_spec_validator.validate(document)
    assert document["openapi"] == "3.1.0"


def test_it_is_served_as_generated() -> None:
    response = TestClient(_without_lifespan).get("/api/openapi.json")

    assert response.status_code == 200
    assert response.json() == _document()


def test_each_form_documents_exactly_its_fields_and_their_spellings() -> None:
    document = _document()
    for path, form_type in API_FORMS.items():
        spec = property_map().form(form_type)
        schema = _request_schema(document, path)
        spellings = {
            spelling: name
            for name in spec.fields
            for spelling in (name, *property_map().fields[name].aliases)
        }

        assert set(schema["properties"]) == set(spellings) | {HONEYPOT_FIELD}
        assert "serviceInterest" in schema["properties"]
        assert "projectDescription" in schema["properties"]
        required = set(schema["required"]) | {
            spellings[option["required"][0]]
            for rule in schema.get("allOf", [])
            for option in rule["anyOf"]
        }
        assert required == set(spec.required)
        for spelling, name in spellings.items():
            field = property_map().fields[name]
            documented = schema["properties"][spelling]
            assert documented["title"] == field.label
            if not field.multiple:
                assert documented.get("maxLength") == field.max_length


def test_picklists_are_text_with_their_options_listed() -> None:
    quote = _request_schema(_document(), "/api/quote-request")["properties"]
    options = property_map().picklists["budget"]

    assert "enum" not in quote["budget"]
    assert quote["budget"]["examples"] == list(options)
    for value, label in options.items():
        assert f"`{value}` ({label})" in quote["budget"]["description"]
    interests = quote["serviceInterests"]["anyOf"][0]
    assert interests["type"] == "array" and interests["items"] == {"type": "string"}


SAMPLES = [None, "", " ", "text", "x" * 255, "x" * 5001, 0, 1.5, True, [], ["a"], [1], {}]


def test_the_documented_shapes_are_exactly_the_ones_the_api_takes() -> None:
    document = _document()
    for path, form_type in API_FORMS.items():
        schema = _request_schema(document, path)
        spec = property_map().form(form_type)
        for name in spec.optional:
            field = property_map().fields[name]
            validator = jsonschema.Draft202012Validator(schema["properties"][name])
            for value in SAMPLES:
                documented = validator.is_valid(value)
                taken = json_type_error(field, value) is None
                assert documented == taken, (name, value)


def test_protection_is_documented_only_when_it_is_on() -> None:
    off = _document(recaptcha_secret=None, submission_rate_limit=0)
    on = _document(recaptcha_secret="secret", submission_rate_limit=5)

    off_contact, on_contact = (doc["paths"]["/api/contact"]["post"] for doc in (off, on))
    assert {"403", "429", "503"}.isdisjoint(off_contact["responses"])
    assert RECAPTCHA_TOKEN_FIELD not in _request_schema(off, "/api/contact")["properties"]
    assert {"403", "429", "503"} <= set(on_contact["responses"])
    assert "Retry-After" in on_contact["responses"]["429"]["headers"]
    assert RECAPTCHA_TOKEN_FIELD in _request_schema(on, "/api/contact")["required"]


def _request_schema(document: dict, path: str) -> dict:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    return document["components"]["schemas"][name]
