"""Association labels (``/crm/v4/associations/{from}/{to}/labels``): the type ids
valid between two object types, and USER_DEFINED labels a portal adds to them.

A created label becomes a valid ``associationTypeId`` (category USER_DEFINED) for
v4 association writes and inline associations on create.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .associations import USER_DEFINED, AssociationDef, definitions
from .errors import ApiError, not_found, validation_error
from .objecttypes import ObjectType, resolve_any
from .wire import answer, no_content, read_json, sandbox

FIRST_LABEL_ID = 1000


def _types(request: Request) -> tuple[ObjectType, ObjectType]:
    return (
        resolve_any(request.path_params["fromObjectType"]),
        resolve_any(request.path_params["toObjectType"]),
    )


def _spec_json(d: AssociationDef) -> dict[str, Any]:
    return {"category": d.category, "typeId": d.type_id, "label": d.label}


async def list_labels(request: Request) -> Response:
    source, target = _types(request)
    state = sandbox(request)
    with state.lock:
        found = definitions(source.name, target.name, tuple(state.labels))
    return answer({"results": [_spec_json(d) for d in found]})


async def create_label(request: Request) -> Response:
    """A USER_DEFINED label and its inverse (same label unless ``inverseLabel``)."""
    source, target = _types(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not body.get("label") or not body.get("name"):
        raise validation_error("label and name are required")
    state = sandbox(request)
    with state.lock:
        if any(d.name == body["name"] for d in state.labels):
            raise ApiError(409, "CONFLICT", f"An association label named {body['name']} exists.")
        type_id = max((d.type_id + 1 for d in state.labels), default=FIRST_LABEL_ID)
        forward = AssociationDef(
            source.name,
            target.name,
            USER_DEFINED,
            type_id,
            type_id + 1,
            body["name"],
            body["label"],
        )
        inverse = AssociationDef(
            target.name, source.name, USER_DEFINED, type_id + 1, type_id,
            f"{body['name']}_inverse", body.get("inverseLabel") or body["label"],
        )  # fmt: skip
        state.labels += [forward, inverse]
    return answer({"results": [_spec_json(forward), _spec_json(inverse)]})


async def update_label(request: Request) -> Response:
    source, target = _types(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("associationTypeId"), int):
        raise validation_error("associationTypeId is required")
    state = sandbox(request)
    with state.lock:
        for n, d in enumerate(state.labels):
            if d.type_id == body["associationTypeId"] and d.from_type == source.name:
                state.labels[n] = AssociationDef(
                    d.from_type, d.to_type, d.category, d.type_id, d.inverse_id, d.name,
                    body.get("label") or d.label,
                )  # fmt: skip
                return no_content()
    raise not_found(
        f"No USER_DEFINED association type {body['associationTypeId']} from {target.label}"
    )


async def delete_label(request: Request) -> Response:
    source, _ = _types(request)
    type_id = int(request.path_params["associationTypeId"])
    state = sandbox(request)
    with state.lock:
        doomed = [d for d in state.labels if d.from_type == source.name and d.type_id == type_id]
        if not doomed:
            raise not_found(f"No USER_DEFINED association type {type_id}")
        gone = {type_id, doomed[0].inverse_id}
        state.labels = [d for d in state.labels if d.type_id not in gone]
        for targets in state.links.values():
            for kinds in targets.values():
                kinds -= {k for k in kinds if k[0] == USER_DEFINED and k[1] in gone}
    return no_content()


_LABELS = "/crm/v4/associations/{fromObjectType}/{toObjectType}/labels"
ROUTES = [
    Route(_LABELS, list_labels, methods=["GET"]),
    Route(_LABELS, create_label, methods=["POST"]),
    Route(_LABELS, update_label, methods=["PUT"]),
    Route(_LABELS + "/{associationTypeId:int}", delete_label, methods=["DELETE"]),
]
