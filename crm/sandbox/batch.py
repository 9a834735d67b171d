"""The ``/batch/{create,read,update,upsert,archive}`` operations on CRM objects.

HubSpot caps batches at 100 inputs, rejects a batch whose values are invalid as a
whole (400/409, nothing written) and reports per-input misses (unknown ids) as a 207
with ``errors[]``. Batch create with an ``objectWriteTraceId`` on every input turns
per-input failures into 207 entries instead, as HubSpot documents.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, validation_error
from .objects import (
    Claims,
    apply_create,
    apply_update,
    archive,
    locate,
    object_json,
    prepare_create,
    prepare_update,
)
from .objecttypes import CONTACTS, ObjectType
from .records import ObjectRecord
from .state import SandboxState
from .timeutil import iso
from .values import coerce_input

MAX_INPUTS = 100


def _inputs(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: expected an object with an inputs list")
    inputs = body["inputs"]
    if len(inputs) > MAX_INPUTS:
        raise validation_error(
            f"Batch input is limited to {MAX_INPUTS} inputs; got {len(inputs)}.",
            context={"inputs": [str(len(inputs))]},
        )
    if not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: every input must be an object")
    return inputs


def _answer(
    started: float, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(started),
    }
    if errors:
        body["errors"], body["numErrors"] = errors, len(errors)
    return (207 if errors else ok), body


def _missing(otype: ObjectType, ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {otype.label} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }


def _no_duplicates(otype: ObjectType, inputs: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for item in inputs:
        key = str(item.get("id", ""))
        folded = key.lower() if otype is CONTACTS and item.get("idProperty") == "email" else key
        if folded in seen:
            duplicates.append(key)
        seen.add(folded)
    if duplicates:
        raise validation_error(
            f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique",
            context={"ids": duplicates},
        )


def _traced(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    if item.get("objectWriteTraceId"):
        body["objectWriteTraceId"] = str(item["objectWriteTraceId"])
    return body


def batch_create(state: SandboxState, otype: ObjectType, body: Any) -> tuple[int, dict[str, Any]]:
    started, inputs = state.now(), _inputs(body)
    traced = bool(inputs) and all(i.get("objectWriteTraceId") for i in inputs)
    claims: Claims = {}
    ready, errors = [], []
    for n, item in enumerate(inputs):
        try:
            ready.append(
                (
                    item,
                    prepare_create(
                        state,
                        otype,
                        item.get("properties"),
                        item.get("associations"),
                        claims=claims,
                        claimant=f"new:{n}",
                    ),
                )
            )
        except ApiError as exc:
            if not traced:
                raise
            error = exc.standard_error()
            error["context"] = {
                **error["context"],
                "objectWriteTraceId": [str(item["objectWriteTraceId"])],
            }
            errors.append(error)
    results = [
        _traced(object_json(state, apply_create(state, pending)), item) for item, pending in ready
    ]
    return _answer(started, results, errors, 201)


def batch_read(
    state: SandboxState, otype: ObjectType, body: Any, *, archived: bool
) -> tuple[int, dict[str, Any]]:
    started, inputs = state.now(), _inputs(body)
    id_property = body.get("idProperty") or None
    properties = [p for p in body.get("properties") or [] if isinstance(p, str)]
    history = [p for p in body.get("propertiesWithHistory") or [] if isinstance(p, str)]
    results, missing = [], []
    for raw_id in dict.fromkeys(str(i.get("id", "")) for i in inputs):
        found = locate(state, otype, raw_id, id_property, write=False, archived=archived)
        if found is None:
            missing.append(raw_id)
            continue
        results.append(
            object_json(state, found, properties or list(otype.default_properties), history=history)
        )
    return _answer(started, results, [_missing(otype, missing)] if missing else [], 200)


def batch_update(state: SandboxState, otype: ObjectType, body: Any) -> tuple[int, dict[str, Any]]:
    started, inputs = state.now(), _inputs(body)
    _no_duplicates(otype, inputs)
    claims: Claims = {}
    ready: list[tuple[dict[str, Any], ObjectRecord, dict[str, str]]] = []
    missing: list[str] = []
    for item in inputs:
        raw_id = str(item.get("id", ""))
        found = locate(state, otype, raw_id, item.get("idProperty"), write=True, batch_update=True)
        if found is None:
            missing.append(raw_id)
            continue
        ready.append(
            (item, found, prepare_update(state, found, item.get("properties"), claims=claims))
        )
    results = []
    for item, found, changes in ready:
        apply_update(state, found, changes)
        results.append(_traced(object_json(state, found), item))
    return _answer(started, results, [_missing(otype, missing)] if missing else [], 200)


def batch_upsert(state: SandboxState, otype: ObjectType, body: Any) -> tuple[int, dict[str, Any]]:
    """Create-or-update by ``idProperty`` (``email`` or a ``hasUniqueValue`` property)."""
    started, inputs = state.now(), _inputs(body)
    _no_duplicates(otype, inputs)
    claims: Claims = {}
    plans: list[tuple[dict[str, Any], ObjectRecord | None, Any]] = []
    for n, item in enumerate(inputs):
        id_property, raw_id = item.get("idProperty"), str(item.get("id", ""))
        if not id_property or id_property == "hs_object_id":
            raise validation_error(
                f"Unable to perform update/upsert by non-unique {otype.type_id} property: "
                f"{id_property or 'hs_object_id'}"
            )
        found = locate(state, otype, raw_id, id_property, write=True)
        if found is not None:
            plans.append(
                (item, found, prepare_update(state, found, item.get("properties"), claims=claims))
            )
        else:
            properties = {**coerce_input(item.get("properties")), id_property: raw_id}
            plans.append(
                (
                    item,
                    None,
                    prepare_create(state, otype, properties, claims=claims, claimant=f"new:{n}"),
                )
            )
    results = []
    for item, found, plan in plans:
        if found is None:
            record, new = apply_create(state, plan), True
        else:
            apply_update(state, found, plan)
            record, new = found, False
        results.append(_traced({**object_json(state, record), "new": new}, item))
    return _answer(started, results, [], 200)


def batch_archive(state: SandboxState, otype: ObjectType, body: Any) -> None:
    for item in _inputs(body):
        found = state.record(otype.name, str(item.get("id", "")))
        if found is not None:
            archive(state, found)
