"""Properties v3 (``/crm/v3/properties/{objectType}``): definitions and groups.

A fresh portal has only HubSpot's standard properties; custom ones (e.g. a
``hasUniqueValue`` idempotency key) must be created here before objects may use them.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .batchwire import batch_answer, batch_inputs
from .errors import ApiError, not_found, validation_error
from .objecttypes import resolve_any
from .properties import create_definition, update_definition
from .state import SandboxState
from .wire import answer, no_content, query_bool, read_json, sandbox

_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


def _otype(request: Request) -> str:
    return resolve_any(request.path_params["objectType"]).name


def _missing_property(name: str, object_type: str) -> ApiError:
    return not_found(f"Unable to find property {name} for object type {object_type}")


def _create(state: SandboxState, object_type: str, body: Any) -> dict[str, Any]:
    defs = state.property_defs[object_type]
    prop = create_definition(body, object_type, defs, set(state.groups[object_type]), state.now())
    defs[prop.name] = prop
    return prop.to_json()


async def list_properties(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    if query_bool(request, "archived"):
        return answer({"results": []})  # deleted properties are gone, not archived
    with state.lock:
        return answer({"results": [p.to_json() for p in state.property_defs[object_type].values()]})


async def create_property(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    body = await read_json(request)
    with state.lock:
        return answer(_create(state, object_type, body), 201)


async def get_property(request: Request) -> Response:
    object_type, state, name = _otype(request), sandbox(request), request.path_params["name"]
    with state.lock:
        prop = state.property_defs[object_type].get(name)
        if prop is None:
            raise _missing_property(name, object_type)
        return answer(prop.to_json())


async def update_property(request: Request) -> Response:
    object_type, state, name = _otype(request), sandbox(request), request.path_params["name"]
    body = await read_json(request)
    with state.lock:
        defs = state.property_defs[object_type]
        if name not in defs:
            raise _missing_property(name, object_type)
        defs[name] = update_definition(
            defs[name], body, set(state.groups[object_type]), state.now()
        )
        return answer(defs[name].to_json())


def _delete(state: SandboxState, object_type: str, name: str) -> None:
    prop = state.property_defs[object_type].get(name)
    if prop is None:
        return
    if prop.hubspot_defined:
        raise validation_error(f"{name} is a HubSpot-defined property and cannot be deleted.")
    del state.property_defs[object_type][name]
    for record in state.objects[object_type].values():
        record.properties.pop(name, None)


async def delete_property(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    with state.lock:
        _delete(state, object_type, request.path_params["name"])
    return no_content()


async def batch_read(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    inputs = batch_inputs(await read_json(request))
    with state.lock:
        defs, started = state.property_defs[object_type], state.now()
        names = [str(i.get("name", "")) for i in inputs]
        missing = [n for n in names if n not in defs]
        errors = [_missing_property(n, object_type).standard_error() for n in missing]
        found = [defs[n].to_json() for n in dict.fromkeys(names) if n in defs]
        status, body = batch_answer(started, found, errors, 200)
        return answer(body, status)


async def batch_create(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    inputs = batch_inputs(await read_json(request))
    with state.lock:
        started, results, errors = state.now(), [], []
        for item in inputs:
            try:
                results.append(_create(state, object_type, item))
            except ApiError as exc:
                errors.append(exc.standard_error())
        status, body = batch_answer(started, results, errors, 201)
        return answer(body, status)


async def batch_archive(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    inputs = batch_inputs(await read_json(request))
    with state.lock:
        for item in inputs:
            _delete(state, object_type, str(item.get("name", "")))
    return no_content()


# --- groups --------------------------------------------------------------------------------


async def list_groups(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    with state.lock:
        return answer({"results": [dict(g) for g in state.groups[object_type].values()]})


async def create_group(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
        raise validation_error("name and label are required")
    name = body["name"]
    if not isinstance(name, str) or not _GROUP_NAME.match(name):
        raise validation_error(f"Property group name '{name}' is invalid.")
    with state.lock:
        groups = state.groups[object_type]
        if name in groups:
            raise ApiError(
                409, "OBJECT_ALREADY_EXISTS", f"Property group named '{name}' already exists."
            )
        order = body.get("displayOrder", -1)
        groups[name] = {
            "name": name,
            "label": str(body["label"]),
            "displayOrder": order if isinstance(order, int) else -1,
            "archived": False,
        }
        return answer(dict(groups[name]), 201)


def _group(state: SandboxState, object_type: str, name: str) -> dict[str, Any]:
    group = state.groups[object_type].get(name)
    if group is None:
        raise not_found(f"Unable to find property group {name} for object type {object_type}")
    return group


async def get_group(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    with state.lock:
        return answer(dict(_group(state, object_type, request.path_params["group"])))


async def update_group(request: Request) -> Response:
    object_type, state = _otype(request), sandbox(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    with state.lock:
        group = _group(state, object_type, request.path_params["group"])
        if "label" in body:
            group["label"] = str(body["label"])
        if isinstance(body.get("displayOrder"), int):
            group["displayOrder"] = body["displayOrder"]
        return answer(dict(group))


async def delete_group(request: Request) -> Response:
    object_type, state, name = _otype(request), sandbox(request), request.path_params["group"]
    with state.lock:
        _group(state, object_type, name)
        if any(p.group_name == name for p in state.property_defs[object_type].values()):
            raise validation_error(f"Property group {name} still has properties.")
        del state.groups[object_type][name]
    return no_content()


_BASE = "/crm/v3/properties/{objectType}"
ROUTES = [
    Route(_BASE + "/batch/read", batch_read, methods=["POST"]),
    Route(_BASE + "/batch/create", batch_create, methods=["POST"]),
    Route(_BASE + "/batch/archive", batch_archive, methods=["POST"]),
    Route(_BASE + "/groups", list_groups, methods=["GET"]),
    Route(_BASE + "/groups", create_group, methods=["POST"]),
    Route(_BASE + "/groups/{group}", get_group, methods=["GET"]),
    Route(_BASE + "/groups/{group}", update_group, methods=["PATCH"]),
    Route(_BASE + "/groups/{group}", delete_group, methods=["DELETE"]),
    Route(_BASE, list_properties, methods=["GET"]),
    Route(_BASE, create_property, methods=["POST"]),
    Route(_BASE + "/{name}", get_property, methods=["GET"]),
    Route(_BASE + "/{name}", update_property, methods=["PATCH"]),
    Route(_BASE + "/{name}", delete_property, methods=["DELETE"]),
]
