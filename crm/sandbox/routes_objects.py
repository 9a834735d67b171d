"""``/crm/v3/objects/{objectType}``: CRUD, batch, search and GDPR delete.

Routes only translate HTTP to the operations in ``objects.py``/``batch.py``/
``search.py``; all of them run under the state lock. ``objectType`` may be the plural
name or the type id (``contacts``/``0-1``, ``deals``/``0-3``, ``notes``/``0-46``), so
the SDK's named paths and its generic ``crm.objects`` API hit the same code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import batch
from .errors import not_found, validation_error
from .objects import (
    apply_create,
    apply_update,
    archive,
    locate,
    object_json,
    prepare_create,
    prepare_update,
    require,
)
from .objecttypes import CONTACTS, resolve_v3
from .search import search
from .wire import answer, no_content, query_bool, query_int, query_list, read_json, sandbox

MAX_PAGE = 100


async def create_object(request: Request) -> Response:
    otype = resolve_v3(request.path_params["objectType"])
    body = await read_json(request)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    state = sandbox(request)
    with state.lock:
        pending = prepare_create(state, otype, body.get("properties"), body.get("associations"))
        record = apply_create(state, pending)
        return answer(object_json(state, record), 201)


async def get_object(request: Request) -> Response:
    otype = resolve_v3(request.path_params["objectType"])
    state = sandbox(request)
    with state.lock:
        record = require(
            state,
            otype,
            request.path_params["objectId"],
            request.query_params.get("idProperty"),
            write=False,
            archived=query_bool(request, "archived"),
        )
        return answer(
            object_json(
                state,
                record,
                query_list(request, "properties") or list(otype.default_properties),
                history=query_list(request, "propertiesWithHistory"),
                associations=query_list(request, "associations"),
            )
        )


async def update_object(request: Request) -> Response:
    otype = resolve_v3(request.path_params["objectType"])
    body = await read_json(request)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    state = sandbox(request)
    with state.lock:
        record = require(
            state,
            otype,
            request.path_params["objectId"],
            request.query_params.get("idProperty"),
            write=True,
        )
        apply_update(state, record, prepare_update(state, record, body.get("properties")))
        return answer(object_json(state, record))


async def archive_object(request: Request) -> Response:
    """DELETE answers 204 whether or not the object existed, like HubSpot."""
    otype = resolve_v3(request.path_params["objectType"])
    state = sandbox(request)
    with state.lock:
        record = state.record(otype.name, request.path_params["objectId"])
        if record is not None:
            archive(state, record)
    return no_content()


async def list_objects(request: Request) -> Response:
    otype = resolve_v3(request.path_params["objectType"])
    limit, after = query_int(request, "limit", 10), query_int(request, "after", 0)
    if not 1 <= limit <= MAX_PAGE or after < 0:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}; after must be >= 0")
    archived = query_bool(request, "archived")
    properties = query_list(request, "properties") or list(otype.default_properties)
    state = sandbox(request)
    with state.lock:
        records = sorted(
            (r for r in state.objects[otype.name].values() if r.archived == archived),
            key=lambda r: int(r.id),
        )
        page = records[after : after + limit]
        body: dict[str, Any] = {
            "results": [
                object_json(
                    state,
                    r,
                    properties,
                    history=query_list(request, "propertiesWithHistory"),
                    associations=query_list(request, "associations"),
                )
                for r in page
            ]
        }
    if after + limit < len(records):
        cursor = str(after + limit)
        body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return answer(body)


async def search_objects(request: Request) -> Response:
    otype = resolve_v3(request.path_params["objectType"])
    body = await read_json(request)
    state = sandbox(request)
    with state.lock:
        return answer(search(state, otype, body))


async def gdpr_delete(request: Request) -> Response:
    """Permanently remove a contact; an unknown e-mail still answers 204 (HubSpot then
    blocklists the address)."""
    body = await read_json(request)
    if not isinstance(body, dict) or not body.get("objectId"):
        raise validation_error("objectId is required")
    object_id, id_property = str(body["objectId"]), body.get("idProperty") or None
    state = sandbox(request)
    with state.lock:
        record = locate(state, CONTACTS, object_id, id_property, write=True) or locate(
            state, CONTACTS, object_id, id_property, write=True, archived=True
        )
        if record is None:
            if id_property == "email":
                return no_content()
            raise not_found()
        state.purge(CONTACTS.name, record.id)
    return no_content()


BatchOperation = Callable[..., tuple[int, dict[str, Any]] | None]


def _batch(operation: BatchOperation) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint running one ``batch.py`` operation (``archived`` only for read)."""

    async def endpoint(request: Request) -> Response:
        otype = resolve_v3(request.path_params["objectType"])
        body = await read_json(request)
        extra = (
            {"archived": query_bool(request, "archived")} if operation is batch.batch_read else {}
        )
        state = sandbox(request)
        with state.lock:
            outcome = operation(state, otype, body, **extra)
        if outcome is None:
            return no_content()
        status, payload = outcome
        return answer(payload, status)

    return endpoint


_OBJECT = "/crm/v3/objects/{objectType}"
ROUTES = [
    Route("/crm/v3/objects/contacts/gdpr-delete", gdpr_delete, methods=["POST"]),
    Route(_OBJECT + "/batch/create", _batch(batch.batch_create), methods=["POST"]),
    Route(_OBJECT + "/batch/read", _batch(batch.batch_read), methods=["POST"]),
    Route(_OBJECT + "/batch/update", _batch(batch.batch_update), methods=["POST"]),
    Route(_OBJECT + "/batch/upsert", _batch(batch.batch_upsert), methods=["POST"]),
    Route(_OBJECT + "/batch/archive", _batch(batch.batch_archive), methods=["POST"]),
    Route(_OBJECT + "/search", search_objects, methods=["POST"]),
    Route(_OBJECT, list_objects, methods=["GET"]),
    Route(_OBJECT, create_object, methods=["POST"]),
    Route(_OBJECT + "/{objectId}", get_object, methods=["GET"]),
    Route(_OBJECT + "/{objectId}", update_object, methods=["PATCH"]),
    Route(_OBJECT + "/{objectId}", archive_object, methods=["DELETE"]),
]
