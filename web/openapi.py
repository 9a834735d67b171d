"""The OpenAPI 3.1 document of the JSON API, generated from the mapping and the settings.

Every form's request schema comes from `hubspot_properties.json` through `property_map()`:
its fields (and their alias spellings), their JSON shapes as `web.api.json_type_error`
enforces them, their maximum lengths, the picklist options, what is required. Protection
shows only when it is on: the reCAPTCHA token and 403/503 with a secret, 429 with a limit.
Only the shapes are schema; what the cleaners check (a real phone number, a known country)
is described in words and answered with 422.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actors.services import property_map
from crm.mapping import FieldSpec, PropertyMap
from crm.transforms import BOOLEAN_TRANSFORMS
from settings import Settings, get_settings
from storage.storable import UNSTORABLE_MESSAGE
from web.api import (
    ACCEPTED_MESSAGE,
    API_FORMS,
    INVALID_MESSAGE,
    MALFORMED_MESSAGE,
    NOT_JSON_MESSAGE,
    NOT_OBJECT_MESSAGE,
)
from web.body_limit import TOO_LARGE
from web.protection import (
    CAPTCHA_FAILED_MESSAGE,
    CAPTCHA_UNAVAILABLE_MESSAGE,
    HONEYPOT_FIELD,
    RECAPTCHA_ACTION,
    RECAPTCHA_TOKEN_FIELD,
)

OPENAPI_PATH = "/api/openapi.json"

#: What each cleaner of `crm/transforms.py` accepts and stores, for the field descriptions.
TRANSFORM_NOTES = {
    "text": "Plain text: markup is removed, and so is a leading `=`, `+`, `-` or `@`.",
    "name": "Plain text; the first letter of each word part is capitalised.",
    "email": "An e-mail address, like name@company.com; stored in lower case.",
    "phone": (
        "A phone number with its country code (+44 20 7946 0958), or national to `country`;"
        " stored in E.164 form."
    ),
    "country": "An ISO 3166 country code or English name; stored as the alpha-2 code.",
    "future_date": "A date as YYYY-MM-DD, today or later.",
    "time": "A time as HH:MM on the 24-hour clock.",
    "time_zone": "An IANA time zone name, like Europe/London.",
    "consent": (
        'true (or "true", "on", "yes", "1") opts in to marketing e-mails; anything else'
        " says nothing, and never withdraws an earlier opt-in."
    ),
}
TRANSFORM_EXAMPLES = {
    "email": ["jane.smith@example.com"],
    "phone": ["+44 20 7946 0958"],
    "country": ["GB", "United States"],
    "time": ["14:30"],
    "time_zone": ["Europe/London"],
    "consent": [True],
}
#: Days ahead of today for the example of a future date.
EXAMPLE_DATE_AHEAD_DAYS = 30


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi_document(property_map(), get_settings()))


def openapi_document(mapping: PropertyMap, settings: Settings) -> dict[str, Any]:
    """The whole document for this mapping and these settings."""
    schemas: dict[str, Any] = {
        "Envelope": ENVELOPE,
        "Accepted": ACCEPTED,
    }
    paths: dict[str, Any] = {}
    for path, form_type in API_FORMS.items():
        name = _schema_name(form_type)
        schemas[name] = form_schema(mapping, form_type, settings)
        title = mapping.form(form_type).title
        paths[path] = {
            "post": {
                "operationId": f"submit_{form_type}",
                "tags": ["forms"],
                "summary": title,
                "description": f"Store a {title.lower()} submission and sync it to the CRM.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(name)}},
                },
                "responses": responses(settings),
            }
        }
    upload_paths, upload_schemas = upload_api(settings)
    paths |= upload_paths
    schemas |= upload_schemas
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lead capture API",
            "version": _version(),
            "description": (
                "Submit the website's forms as JSON. Every answer is the same envelope: "
                "`success`, `message` (a sentence to show), `errors` (field -> message) "
                "and `data`. An accepted submission is stored at once and synced to the "
                "CRM in the background."
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def form_schema(mapping: PropertyMap, form_type: str, settings: Settings) -> dict[str, Any]:
    """The request body of one form: every spelling of every field, and what is required."""
    spec = mapping.form(form_type)
    properties: dict[str, Any] = {}
    required: list[str] = []
    all_of: list[dict[str, Any]] = []
    for name in spec.fields:
        field = mapping.fields[name]
        spellings = (name, *field.aliases)
        is_required = name in spec.required
        for spelling in spellings:
            loose = not is_required or len(spellings) > 1
            properties[spelling] = field_schema(mapping, field, required=not loose)
        if is_required and len(spellings) == 1:
            required.append(name)
        elif is_required:
            # One spelling or another must carry a value; the others may be left out.
            strict = field_schema(mapping, field, required=True)
            all_of.append(
                {
                    "anyOf": [
                        {"required": [spelling], "properties": {spelling: strict}}
                        for spelling in spellings
                    ]
                }
            )
    properties[HONEYPOT_FIELD] = {
        "description": (
            "Leave this out. It is a trap for bots: a request with anything in it but null "
            "or blank text is answered 202 like an accepted one, and discarded."
        ),
    }
    if settings.recaptcha_secret:
        properties[RECAPTCHA_TOKEN_FIELD] = {
            "type": "string",
            "description": (
                "A reCAPTCHA v3 token from `grecaptcha.execute(siteKey, "
                f'{{action: "{RECAPTCHA_ACTION}"}})`, used once.'
            ),
        }
        required.append(RECAPTCHA_TOKEN_FIELD)
    schema: dict[str, Any] = {
        "type": "object",
        "title": spec.title,
        "description": (
            "Unknown members are not stored: the answer lists them in `data.ignored`. A field "
            "that is null or blank text counts as left out."
        ),
        "properties": properties,
        "required": required,
    }
    if all_of:
        schema["allOf"] = all_of
    return schema


def field_schema(mapping: PropertyMap, field: FieldSpec, *, required: bool) -> dict[str, Any]:
    """One field's JSON, as `web.api.json_type_error` takes it: strict when it must carry a
    value (no null, not empty), else also null and empty."""
    description = [TRANSFORM_NOTES.get(field.transform, "")]
    examples = TRANSFORM_EXAMPLES.get(field.transform)
    options = mapping.picklists.get(field.transform)
    if options:
        listed = ", ".join(f"`{value}` ({label})" for value, label in options.items())
        how_many = "One or more" if field.multiple else "One"
        description.append(f"{how_many} of {listed}, by value or label in any case.")
        examples = list(options)
    elif field.transform == "future_date":
        ahead = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=EXAMPLE_DATE_AHEAD_DAYS)
        examples = [ahead.isoformat()]
    text: dict[str, Any] = {"type": "string"}
    if field.transform in BOOLEAN_TRANSFORMS:
        schema: dict[str, Any] = {"type": ["boolean", "string"]}
    elif field.multiple:
        items = {"type": "string"}
        listed_items: dict[str, Any] = {"type": "array", "items": items}
        if required:
            listed_items["minItems"] = 1
            text["minLength"] = 1
        else:
            text = {"type": ["string", "null"]}
        description.append("An array, or one string with the values separated by commas.")
        if examples:
            listed_items["examples"] = [examples[:2]]
            text["examples"] = [examples[0]]
        schema = {"anyOf": [listed_items, text]}
        examples = None
    else:
        schema = text
        if field.max_length:
            schema["maxLength"] = field.max_length
        if required:
            schema["minLength"] = 1
    if not required and "anyOf" not in schema:
        schema["type"] = [*_as_list(schema["type"]), "null"]
    schema["title"] = field.label
    if described := " ".join(part for part in description if part):
        schema["description"] = described
    if examples:
        schema["examples"] = examples
    return schema


def responses(settings: Settings) -> dict[str, Any]:
    answers = {
        "202": {
            "description": ACCEPTED_MESSAGE,
            "content": {"application/json": {"schema": _ref("Accepted")}},
        },
        "400": _error(MALFORMED_MESSAGE),
        "413": _error(f"{TOO_LARGE} (Over {settings.max_body_bytes} bytes.)"),
        "415": _error(NOT_JSON_MESSAGE),
        "422": _error(
            f"{INVALID_MESSAGE} `errors` maps each field to what is wrong with it. Also: "
            f"{NOT_OBJECT_MESSAGE} Or: {UNSTORABLE_MESSAGE}"
        ),
    }
    if settings.submission_rate_limit:
        answers["429"] = _error(
            f"More than {settings.submission_rate_limit} submissions from one address in "
            f"{settings.submission_rate_window:g} s. Try again after `Retry-After` seconds.",
            retry_after=True,
        )
    if settings.recaptcha_secret:
        answers["403"] = _error(f"{CAPTCHA_FAILED_MESSAGE} (The reCAPTCHA check failed.)")
        answers["503"] = _error(CAPTCHA_UNAVAILABLE_MESSAGE, retry_after=True)
    return dict(sorted(answers.items()))


ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["success", "message", "errors", "data"],
    "properties": {
        "success": {"type": "boolean"},
        "message": {"type": "string", "description": "A sentence to show the visitor."},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Field name -> what is wrong with its value.",
        },
        "data": {"type": "object"},
    },
}
ACCEPTED: dict[str, Any] = {
    "allOf": [
        {"$ref": "#/components/schemas/Envelope"},
        {
            "type": "object",
            "properties": {
                "success": {"const": True},
                "data": {
                    "type": "object",
                    "required": ["submission_id", "status", "ignored"],
                    "properties": {
                        "submission_id": {"type": "string", "format": "uuid"},
                        "status": {"const": "pending"},
                        "ignored": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Members that are no field of the form, not stored.",
                        },
                    },
                },
            },
        },
    ]
}


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        _ref("Envelope"),
                        {"type": "object", "properties": {"success": {"const": False}}},
                    ]
                }
            }
        },
    }
    if retry_after:
        answer["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before sending again.",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return answer


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema_name(form_type: str) -> str:
    return "".join(part.title() for part in form_type.split("_")) + "Form"


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _version() -> str:
    try:
        return importlib.metadata.version("leadsync")
    except importlib.metadata.PackageNotFoundError:
        return "0"


# Sample-data uploads (web/uploads.py)


def upload_api(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The upload endpoints' paths and schemas, tagged `uploads`."""
    from web import uploads

    upload_id = {
        "name": "upload_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    token = {
        "name": "token",
        "in": "query",
        "required": True,
        "description": "The signed token `status_url` carries; it alone shows the upload.",
        "schema": {"type": "string"},
    }

    upload_token = {
        "name": uploads.UPLOAD_TOKEN_HEADER,
        "in": "header",
        "required": True,
        "description": "The `token` of the `status_url` creating the upload answered; "
        "without it, or with another upload's, the upload is unknown (404).",
        "schema": {"type": "string"},
    }

    def answer(description: str, schema: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": _ref(schema)}},
        }

    paths = {
        "/api/uploads": {
            "post": {
                "operationId": "create_upload",
                "tags": ["uploads"],
                "summary": "Start a sample-data upload",
                "description": (
                    "Validate the file's details and answer a presigned POST target: send a "
                    "multipart form to `url` with every field of `fields`, then the file as "
                    "`file`, before `expires_at`. The target takes only this file's content "
                    "type and at most `size` bytes."
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("UploadRequest")}},
                },
                "responses": {
                    "201": answer(uploads.CREATED_MESSAGE, "UploadCreated"),
                    "400": _error(uploads.MALFORMED_MESSAGE),
                    "413": _error(f"{TOO_LARGE} (Over {settings.max_body_bytes} bytes.)"),
                    "415": _error(uploads.NOT_JSON_MESSAGE),
                    "422": _error(
                        f"{uploads.INVALID_MESSAGE} `errors` maps each field to what is wrong. "
                        f"Also: {uploads.NOT_OBJECT_MESSAGE}"
                    ),
                },
            }
        },
        "/api/uploads/{upload_id}/complete": {
            "post": {
                "operationId": "complete_upload",
                "tags": ["uploads"],
                "summary": "Record that the file was sent, and queue its analysis",
                "description": "The status links are answered once, when the upload is created.",
                "parameters": [upload_id, upload_token],
                "responses": {
                    "202": answer(uploads.COMPLETED_MESSAGE, "UploadCompleted"),
                    "404": _error(uploads.NOT_FOUND_MESSAGE),
                    "409": _error(
                        f"{uploads.NOT_RECEIVED_MESSAGE} Or the upload failed: `message` says why."
                    ),
                },
            }
        },
        "/api/uploads/{upload_id}": {
            "get": {
                "operationId": "upload_status",
                "tags": ["uploads"],
                "summary": "An upload's status, and its results once analysed",
                "description": "Poll the `status_url` that creating the upload answered.",
                "parameters": [upload_id, token],
                "responses": {
                    "200": answer("`message` is the status in a sentence.", "UploadStatus"),
                    "404": _error(uploads.NOT_FOUND_MESSAGE),
                },
            }
        },
    }
    return paths, upload_schemas(settings)


def upload_schemas(settings: Settings) -> dict[str, Any]:
    from storage.analysis.detect import EXTENSIONS
    from storage.uploads import CRM_STATUSES, UPLOAD_STATUSES
    from web import uploads
    from web.upload_view import STAGE_LABELS

    def envelope_with(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "allOf": [
                _ref("Envelope"),
                {"type": "object", "properties": {"success": {"const": True}, "data": data}},
            ]
        }

    uuid_string = {"type": "string", "format": "uuid"}
    url = {"type": "string", "format": "uri"}
    extensions = ", ".join(sorted(EXTENSIONS))
    return {
        "UploadRequest": {
            "type": "object",
            "title": "Sample-data upload",
            "required": ["email", "filename", "contentType", "size"],
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "maxLength": 254,
                    "description": TRANSFORM_NOTES["email"],
                    "examples": ["jane.smith@example.com"],
                },
                "filename": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "description": f"The file's name; its extension is one of {extensions}.",
                    "examples": ["customers.csv"],
                },
                "contentType": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": uploads.MAX_CONTENT_TYPE_CHARS,
                    "description": "The file's media type, sent again with the file.",
                    "examples": ["text/csv"],
                },
                "size": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": settings.upload_max_bytes,
                    "description": "The file's size in bytes; the target takes no more.",
                },
            },
        },
        "UploadCreated": envelope_with(
            {
                "type": "object",
                "required": [
                    "upload_id",
                    "url",
                    "fields",
                    "expires_at",
                    "status_url",
                    "status_page",
                ],
                "properties": {
                    "upload_id": uuid_string,
                    "url": url,
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "status_url": url,
                    "status_page": {
                        **url,
                        "description": "The visitor's page that follows the analysis live.",
                    },
                },
            }
        ),
        "UploadCompleted": envelope_with(
            {
                "type": "object",
                "required": ["upload_id", "status"],
                "properties": {
                    "upload_id": uuid_string,
                    "status": {"enum": list(UPLOAD_STATUSES)},
                },
            }
        ),
        "UploadStatus": envelope_with(
            {
                "type": "object",
                "required": ["upload_id", "status", "message", "stages"],
                "properties": {
                    "upload_id": uuid_string,
                    "status": {"enum": list(UPLOAD_STATUSES)},
                    "message": {"type": "string"},
                    "stages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"enum": list(STAGE_LABELS)},
                                "label": {"type": "string"},
                                "state": {"enum": ["done", "current", "waiting", "failed"]},
                            },
                        },
                    },
                    "results": {
                        "type": ["object", "null"],
                        "description": (
                            "When completed: file_type, size_bytes, row_count, column_count, "
                            "columns (name, type, null_share, type_consistency), "
                            "duplicate_share, summary, quality (completeness, uniqueness, "
                            "type_consistency) and quality_score (0-1); null once purged."
                        ),
                    },
                    "crm": {
                        "type": "object",
                        "properties": {
                            "status": {"enum": [*CRM_STATUSES, None]},
                            "contact_id": {"type": ["string", "null"]},
                            "activity_id": {"type": ["string", "null"]},
                        },
                    },
                },
            }
        ),
    }


routes = [Route(OPENAPI_PATH, openapi_endpoint, methods=["GET"])]
