"""Associations v4 (``/crm/v4/...``): single and batch associate, read and remove.

Every association is checked against the definitions for its (from, to) pair and
stored both ways (``SandboxState.link``). Object ids in v4 read answers are JSON
numbers (``toObjectId``), as HubSpot sends them, although the SDK models say string.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .associations import default_for
from .batchwire import batch_answer, batch_inputs
from .errors import ApiError, not_found, validation_error
from .links import find_all, spec_definition
from .objecttypes import ObjectType, resolve_any
from .state import SandboxState
from .wire import answer, no_content, query_int, read_json, sandbox

MAX_PAGE = 500


def _types(request: Request, source: str, target: str) -> tuple[ObjectType, ObjectType]:
    return resolve_any(request.path_params[source]), resolve_any(request.path_params[target])


def _require(state: SandboxState, otype: ObjectType, object_id: str) -> str:
    if state.record(otype.name, object_id) is None:
        raise not_found(f"No {otype.label} with ID {object_id} exists")
    return object_id


def _label_of(state: SandboxState, source: str, type_id: int) -> str | None:
    for d in find_all(state):
        if d.from_type == source and d.type_id == type_id:
            return d.label
    return None


def _kinds_json(
    state: SandboxState, source: str, kinds: set[tuple[str, int]]
) -> list[dict[str, Any]]:
    return [
        {"category": category, "typeId": type_id, "label": _label_of(state, source, type_id)}
        for category, type_id in sorted(kinds, key=lambda kind: kind[1])
    ]


def _pair_json(
    state: SandboxState, source: ObjectType, from_id: str, target: ObjectType, to_id: str
) -> dict[str, Any]:
    """``LabelsBetweenObjectPair`` after a write: every label now set from → to."""
    kinds = state.linked((source.name, from_id), target.name).get(to_id, set())
    labels = [k["label"] for k in _kinds_json(state, source.name, kinds) if k["label"]]
    return {
        "fromObjectTypeId": source.type_id,
        "fromObjectId": int(from_id),
        "toObjectTypeId": target.type_id,
        "toObjectId": int(to_id),
        "labels": labels,
    }


def _associate_default(
    state: SandboxState, source: ObjectType, from_id: str, target: ObjectType, to_id: str
) -> list[dict[str, Any]]:
    definition = default_for(source.name, target.name)
    if definition is None:
        raise validation_error(
            f"No default association exists between {source.label} and {target.label}"
        )
    _require(state, source, from_id)
    _require(state, target, to_id)
    state.link((source.name, from_id), (target.name, to_id), definition)
    return [
        {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {
                "associationCategory": definition.category,
                "associationTypeId": definition.type_id,
            },
        },
        {
            "from": {"id": to_id},
            "to": {"id": from_id},
            "associationSpec": {
                "associationCategory": definition.category,
                "associationTypeId": definition.inverse_id,
            },
        },
    ]


def _id(item: dict[str, Any], key: str) -> str:
    ref = item.get(key)
    if not isinstance(ref, dict) or ref.get("id") in (None, ""):
        raise validation_error(f"Invalid input JSON: {key}.id is required")
    return str(ref["id"])


# --- single-object routes ------------------------------------------------------------------


async def put_default(request: Request) -> Response:
    source, target = _types(request, "fromObjectType", "toObjectType")
    state = sandbox(request)
    with state.lock:
        started = state.now()
        results = _associate_default(
            state,
            source,
            request.path_params["fromObjectId"],
            target,
            request.path_params["toObjectId"],
        )
        _, body = batch_answer(started, results, [], 200)
        return answer(body)


async def put_labelled(request: Request) -> Response:
    source, target = _types(request, "objectType", "toObjectType")
    from_id, to_id = request.path_params["objectId"], request.path_params["toObjectId"]
    specs = await read_json(request)
    if not isinstance(specs, list) or not specs:
        raise validation_error("Invalid input JSON: expected a list of association types")
    state = sandbox(request)
    with state.lock:
        found = [spec_definition(state, source, spec, target.name) for spec in specs]
        _require(state, source, from_id)
        _require(state, target, to_id)
        for definition in found:
            state.link((source.name, from_id), (target.name, to_id), definition)
        return answer(_pair_json(state, source, from_id, target, to_id), 201)


async def delete_pair(request: Request) -> Response:
    source, target = _types(request, "objectType", "toObjectType")
    state = sandbox(request)
    with state.lock:
        state.unlink(
            (source.name, request.path_params["objectId"]),
            (target.name, request.path_params["toObjectId"]),
        )
    return no_content()


def _targets(
    state: SandboxState, source: ObjectType, from_id: str, target: ObjectType
) -> list[dict[str, Any]]:
    linked = state.linked((source.name, from_id), target.name)
    return [
        {
            "toObjectId": int(to_id),
            "associationTypes": _kinds_json(state, source.name, linked[to_id]),
        }
        for to_id in sorted(linked, key=int)
    ]


async def get_associations(request: Request) -> Response:
    source, target = _types(request, "objectType", "toObjectType")
    limit, after = query_int(request, "limit", MAX_PAGE), query_int(request, "after", 0)
    if not 1 <= limit <= MAX_PAGE or after < 0:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}")
    state = sandbox(request)
    with state.lock:
        everything = _targets(state, source, request.path_params["objectId"], target)
    body: dict[str, Any] = {"results": everything[after : after + limit]}
    if after + limit < len(everything):
        cursor = str(after + limit)
        body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return answer(body)


# --- batch routes --------------------------------------------------------------------------


async def batch_create(request: Request) -> Response:
    source, target = _types(request, "fromObjectType", "toObjectType")
    inputs = batch_inputs(await read_json(request))
    state = sandbox(request)
    with state.lock:
        started, results, errors = state.now(), [], []
        for item in inputs:
            from_id, to_id = _id(item, "from"), _id(item, "to")
            found = [
                spec_definition(state, source, s, target.name) for s in item.get("types") or []
            ]
            if not found:
                raise validation_error("Each input needs at least one association type")
            try:
                _require(state, source, from_id)
                _require(state, target, to_id)
            except ApiError as exc:
                errors.append(exc.standard_error())
                continue
            for definition in found:
                state.link((source.name, from_id), (target.name, to_id), definition)
            results.append(_pair_json(state, source, from_id, target, to_id))
        status, body = batch_answer(started, results, errors, 201)
        return answer(body, status)


async def batch_default(request: Request) -> Response:
    source, target = _types(request, "fromObjectType", "toObjectType")
    inputs = batch_inputs(await read_json(request))
    state = sandbox(request)
    with state.lock:
        started, results, errors = state.now(), [], []
        for item in inputs:
            try:
                results += _associate_default(
                    state, source, _id(item, "from"), target, _id(item, "to")
                )
            except ApiError as exc:
                if exc.status != 404:
                    raise
                errors.append(exc.standard_error())
        # The spec (and SDK) know only a 200 here: failed pairs ride in its errors[].
        _, body = batch_answer(started, results, errors, 200)
        return answer(body)


def _none_associated(source: ObjectType, from_id: str, target: ObjectType) -> dict[str, Any]:
    """HubSpot's per-input error for an object with nothing of ``target`` associated (or
    no such object): clients skip it by its ``subCategory``, so it must match."""
    error = ApiError(
        404,
        "OBJECT_NOT_FOUND",
        f"No {target.singular} is associated with {source.singular} {from_id}.",
        context={
            "fromObjectId": [from_id],
            "fromObjectType": [source.singular],
            "toObjectType": [target.singular],
        },
        sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
    )
    return error.standard_error()


async def batch_read(request: Request) -> Response:
    """Each input's associations in ``results``; an input with none is a 207 error."""
    source, target = _types(request, "fromObjectType", "toObjectType")
    inputs = batch_inputs(await read_json(request))
    state = sandbox(request)
    with state.lock:
        started, results, errors = state.now(), [], []
        for item in inputs:
            from_id = str(item.get("id", ""))
            found = _targets(state, source, from_id, target)
            if found:
                results.append({"from": {"id": from_id}, "to": found})
            else:
                errors.append(_none_associated(source, from_id, target))
    status, body = batch_answer(started, results, errors, 200)
    return answer(body, status)


async def batch_archive(request: Request) -> Response:
    source, target = _types(request, "fromObjectType", "toObjectType")
    inputs = batch_inputs(await read_json(request))
    state = sandbox(request)
    with state.lock:
        for item in inputs:
            from_id = _id(item, "from")
            for ref in item.get("to") or []:
                if isinstance(ref, dict) and ref.get("id") not in (None, ""):
                    state.unlink((source.name, from_id), (target.name, str(ref["id"])))
    return no_content()


async def batch_archive_labels(request: Request) -> Response:
    source, target = _types(request, "fromObjectType", "toObjectType")
    inputs = batch_inputs(await read_json(request))
    state = sandbox(request)
    with state.lock:
        for item in inputs:
            a, b = (source.name, _id(item, "from")), (target.name, _id(item, "to"))
            for spec in item.get("types") or []:
                d = spec_definition(state, source, spec, target.name)
                state.links.get(a, {}).get(b, set()).discard((d.category, d.type_id))
                state.links.get(b, {}).get(a, set()).discard((d.category, d.inverse_id))
    return no_content()


_OBJ = "/crm/v4/objects/{objectType}/{objectId}/associations"
_PAIR = "/crm/v4/associations/{fromObjectType}/{toObjectType}"
ROUTES = [
    Route(
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}",
        put_default,
        methods=["PUT"],
    ),
    Route(_OBJ + "/{toObjectType}/{toObjectId}", put_labelled, methods=["PUT"]),
    Route(_OBJ + "/{toObjectType}/{toObjectId}", delete_pair, methods=["DELETE"]),
    Route(_OBJ + "/{toObjectType}", get_associations, methods=["GET"]),
    Route(_PAIR + "/batch/create", batch_create, methods=["POST"]),
    Route(_PAIR + "/batch/associate/default", batch_default, methods=["POST"]),
    Route(_PAIR + "/batch/read", batch_read, methods=["POST"]),
    Route(_PAIR + "/batch/archive", batch_archive, methods=["POST"]),
    Route(_PAIR + "/batch/labels/archive", batch_archive_labels, methods=["POST"]),
]
