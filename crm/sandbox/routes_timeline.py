"""Timeline events v3 (``/integrators/timeline/v3``): event templates and events.

Templates belong to a developer app and are authenticated with ``?hapikey=`` (the
gate enforces that); events are sent with the portal's Bearer token. Real HubSpot
refuses timeline events from private-app tokens; the sandbox accepts its token so
the optional timeline adapter can be exercised without a public app.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .batchwire import batch_answer, batch_inputs
from .errors import ApiError, not_found, validation_error
from .objects import apply_create, prepare_create
from .objecttypes import CONTACTS, resolve_any
from .state import SandboxState
from .timeutil import iso, parse_instant_ms
from .wire import answer, no_content, read_json, sandbox

TOKEN_TYPES = ("date", "enumeration", "number", "string")
REQUIRED_TEMPLATE = ("name", "objectType", "tokens")


def _tokens(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise validation_error("tokens must be a list")
    tokens = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("name") or not item.get("label"):
            raise validation_error("Each token needs a name and a label")
        if item.get("type") not in TOKEN_TYPES:
            raise validation_error(f"Token type must be one of {', '.join(TOKEN_TYPES)}")
        options = item.get("options") or []
        if item["type"] == "enumeration" and not options:
            raise validation_error(f"Enumeration token {item['name']} needs options")
        tokens.append({**item, "options": options})
    return tokens


def _template(state: SandboxState, app_id: str, template_id: str) -> dict[str, Any]:
    found = state.templates.get(template_id)
    if found is None or found["appId"] != app_id:
        raise not_found(f"No event template {template_id} for app {app_id}")
    return found


def _template_json(template: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in template.items() if k != "appId"}


async def create_template(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not all(body.get(k) is not None for k in REQUIRED_TEMPLATE):
        raise validation_error("name, objectType and tokens are required")
    object_type = resolve_any(str(body["objectType"])).name
    state = sandbox(request)
    with state.lock:
        now, template_id = iso(state.now()), state.new_id()
        state.templates[template_id] = {
            "id": template_id,
            "name": str(body["name"]),
            "objectType": object_type,
            "tokens": _tokens(body["tokens"]),
            "headerTemplate": str(body.get("headerTemplate") or ""),
            "detailTemplate": str(body.get("detailTemplate") or ""),
            "createdAt": now,
            "updatedAt": now,
            "appId": request.path_params["appId"],
        }
        return answer(_template_json(state.templates[template_id]), 201)


async def list_templates(request: Request) -> Response:
    state, app_id = sandbox(request), request.path_params["appId"]
    with state.lock:
        found = [_template_json(t) for t in state.templates.values() if t["appId"] == app_id]
    return answer({"results": found})


async def get_template(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        found = _template(state, request.path_params["appId"], request.path_params["templateId"])
        return answer(_template_json(found))


async def update_template(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    state = sandbox(request)
    with state.lock:
        found = _template(state, request.path_params["appId"], request.path_params["templateId"])
        for key in ("name", "headerTemplate", "detailTemplate"):
            if key in body:
                found[key] = str(body[key] or "")
        if "tokens" in body:
            found["tokens"] = _tokens(body["tokens"])
        found["updatedAt"] = iso(state.now())
        return answer(_template_json(found))


async def delete_template(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        _template(state, request.path_params["appId"], request.path_params["templateId"])
        del state.templates[request.path_params["templateId"]]
    return no_content()


def _check_tokens(template: dict[str, Any], tokens: Any) -> dict[str, str]:
    if not isinstance(tokens, dict):
        raise validation_error("tokens is required and must be an object")
    defined = {t["name"]: t for t in template["tokens"]}
    checked: dict[str, str] = {}
    for name, raw in tokens.items():
        token, value = defined.get(name), str(raw)
        if token is None:
            raise validation_error(
                f"Token {name} is not defined on event template {template['id']}"
            )
        if token["type"] == "number":
            try:
                float(value)
            except ValueError:
                raise validation_error(f"Token {name} must be a number; got {value}") from None
        elif token["type"] == "date" and parse_instant_ms(value) is None:
            raise validation_error(f"Token {name} must be a date; got {value}")
        elif token["type"] == "enumeration" and value not in {
            str(o.get("value")) for o in token["options"] if isinstance(o, dict)
        }:
            raise validation_error(f"Token {name} must be one of its options; got {value}")
        checked[name] = value
    return checked


def _create_event(state: SandboxState, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not body.get("eventTemplateId"):
        raise validation_error("eventTemplateId is required")
    template = state.templates.get(str(body["eventTemplateId"]))
    if template is None:
        raise not_found(f"No event template {body['eventTemplateId']}")
    tokens = _check_tokens(template, body.get("tokens"))
    object_type, object_id = template["objectType"], body.get("objectId")
    email = body.get("email")
    if object_id is not None:
        if state.record(object_type, str(object_id)) is None:
            raise not_found(f"No {object_type} object with ID {object_id}")
    elif object_type == CONTACTS.name and email:
        contact = state.find_unique(CONTACTS.name, "email", str(email))
        if contact is None:  # HubSpot creates the contact for an unknown e-mail
            contact = apply_create(state, prepare_create(state, CONTACTS, {"email": email}))
        object_id = contact.id
    elif not (object_type == CONTACTS.name and body.get("utk")):
        raise validation_error("objectId is required (or email/utk for contact events)")
    event_id = str(body.get("id") or "{{uuid}}").replace("{{uuid}}", str(uuid.uuid4()))
    stamp = body.get("timestamp")
    ms = parse_instant_ms(str(stamp)) if stamp else round(state.now() * 1000)
    if ms is None:
        raise validation_error(f"timestamp is not a valid date-time: {stamp}")
    event: dict[str, Any] = {
        "id": event_id,
        "eventTemplateId": template["id"],
        "tokens": tokens,
        "objectType": object_type,
        "timestamp": iso(ms / 1000),
        "createdAt": iso(state.now()),
    }
    if object_id is not None:
        event["objectId"] = str(object_id)
    for key in ("email", "utk", "domain", "extraData", "timelineIFrame"):
        if body.get(key) is not None:
            event[key] = body[key]
    state.events[(template["id"], event_id)] = event
    return event


async def create_event(request: Request) -> Response:
    body = await read_json(request)
    state = sandbox(request)
    with state.lock:
        return answer(_create_event(state, body), 201)


async def create_events(request: Request) -> Response:
    """Each event stands alone: a bad one is a 207 error, the others are created."""
    inputs = batch_inputs(await read_json(request))
    state = sandbox(request)
    with state.lock:
        started, results, errors = state.now(), [], []
        for item in inputs:
            try:
                results.append(_create_event(state, item))
            except ApiError as exc:
                errors.append(exc.standard_error())
    status, body = batch_answer(started, results, errors, 201)
    return answer(body, status)


async def get_event(request: Request) -> Response:
    state = sandbox(request)
    key = (request.path_params["templateId"], request.path_params["eventId"])
    with state.lock:
        event = state.events.get(key)
    if event is None:
        raise not_found(f"No event {key[1]} for template {key[0]}")
    return answer(event)


_TEMPLATES = "/integrators/timeline/v3/{appId}/event-templates"
ROUTES = [
    Route("/integrators/timeline/v3/events", create_event, methods=["POST"]),
    Route("/integrators/timeline/v3/events/batch/create", create_events, methods=["POST"]),
    Route("/integrators/timeline/v3/events/{templateId}/{eventId}", get_event, methods=["GET"]),
    Route(_TEMPLATES, list_templates, methods=["GET"]),
    Route(_TEMPLATES, create_template, methods=["POST"]),
    Route(_TEMPLATES + "/{templateId}", get_template, methods=["GET"]),
    Route(_TEMPLATES + "/{templateId}", update_template, methods=["PUT"]),
    Route(_TEMPLATES + "/{templateId}", delete_template, methods=["DELETE"]),
]
