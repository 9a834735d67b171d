"""The ``/batch/{create,read,update,upsert,archive}`` operations on CRM objects.

HubSpot caps batches at 100 inputs and refuses duplicate ids in one batch before
anything else. Every input is then validated before anything is written: an invalid
input fails the whole batch (400/409, nothing written), unless *every* input carries an
``objectWriteTraceId``; then, as HubSpot documents, each failing input becomes a 207
``errors[]`` entry naming its trace id and the other inputs are written. Unknown ids
(read, update) are always reported apart, as one OBJECT_NOT_FOUND error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .batchwire import MAX_OBJECT_INPUTS, batch_answer, batch_inputs
from .errors import ApiError, validation_error
from .objects import (
    Claims,
    PendingCreate,
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
from .values import coerce_input

Plan = TypeVar("Plan")
#: What a batch operation writes for one input: (input, what to write).
Ready = list[tuple[dict[str, Any], Plan]]
#: An update ready to be written: the object and its checked changes.
Update = tuple[ObjectRecord, dict[str, str]]


def _inputs(body: Any) -> list[dict[str, Any]]:
    return batch_inputs(body, MAX_OBJECT_INPUTS)


def _missing(otype: ObjectType, ids: list[str]) -> list[dict[str, Any]]:
    """The single error listing every unknown id of a batch read or update, if any."""
    if not ids:
        return []
    message = (
        f"Could not get some {otype.label} objects, they may be deleted or not exist. "
        "Check that ids are valid."
    )
    return [ApiError(404, "OBJECT_NOT_FOUND", message, context={"ids": ids}).standard_error()]


def _no_duplicates(otype: ObjectType, inputs: list[dict[str, Any]]) -> None:
    """HubSpot refuses a batch naming one object twice, traced or not, before anything
    else; contacts by e-mail are the same contact whatever the case."""
    seen: set[str] = set()
    duplicates: list[str] = []
    for item in inputs:
        key = str(item.get("id", ""))
        by_email = otype is CONTACTS and item.get("idProperty") == "email"
        folded = key.strip().lower() if by_email else key
        if folded in seen:
            duplicates.append(key)
        seen.add(folded)
    if duplicates:
        raise validation_error(
            f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique",
            context={"ids": duplicates},
        )


def _is_traced(inputs: list[dict[str, Any]]) -> bool:
    """Per-input failures are reported only when every input carries a trace id."""
    return bool(inputs) and all(i.get("objectWriteTraceId") for i in inputs)


def _trace_error(exc: ApiError, item: dict[str, Any]) -> dict[str, Any]:
    error = exc.standard_error()
    trace = [str(item["objectWriteTraceId"])]
    error["context"] = {**error["context"], "objectWriteTraceId": trace}
    return error


def _prepare_each(
    inputs: list[dict[str, Any]],
    prepare: Callable[[int, dict[str, Any], Claims], Plan],
    *,
    traced: bool,
) -> tuple[Ready[Plan], list[dict[str, Any]]]:
    """Run ``prepare(position, input, claims)`` on every input before anything is
    written: the first failure fails the batch, unless it is ``traced``; then each failure
    is an ``errors[]`` entry and its unique values stay free for the later inputs."""
    claims: Claims = {}
    ready: Ready[Plan] = []
    errors: list[dict[str, Any]] = []
    for n, item in enumerate(inputs):
        trial = dict(claims)
        try:
            ready.append((item, prepare(n, item, trial)))
        except ApiError as exc:
            if not traced:
                raise
            errors.append(_trace_error(exc, item))
            continue
        claims = trial
    return ready, errors


def _echo_trace(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    if item.get("objectWriteTraceId"):
        body["objectWriteTraceId"] = str(item["objectWriteTraceId"])
    return body


def batch_create(state: SandboxState, otype: ObjectType, body: Any) -> tuple[int, dict[str, Any]]:
    started, inputs = state.now(), _inputs(body)

    def prepare(n: int, item: dict[str, Any], claims: Claims) -> PendingCreate:
        return prepare_create(
            state,
            otype,
            item.get("properties"),
            item.get("associations"),
            claims=claims,
            claimant=f"new:{n}",
        )

    ready, errors = _prepare_each(inputs, prepare, traced=_is_traced(inputs))
    results = [
        _echo_trace(object_json(state, apply_create(state, pending)), item)
        for item, pending in ready
    ]
    return batch_answer(started, results, errors, 201)


def batch_read(
    state: SandboxState, otype: ObjectType, body: Any, *, archived: bool
) -> tuple[int, dict[str, Any]]:
    """Read by record id or by a unique ``idProperty`` (e-mail case-insensitively)."""
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
    return batch_answer(started, results, _missing(otype, missing), 200)


def _write_update(state: SandboxState, plan: Update) -> ObjectRecord:
    found, changes = plan
    apply_update(state, found, changes)
    return found


def batch_update(state: SandboxState, otype: ObjectType, body: Any) -> tuple[int, dict[str, Any]]:
    started, inputs = state.now(), _inputs(body)
    _no_duplicates(otype, inputs)
    records = [
        locate(
            state, otype, str(i.get("id", "")), i.get("idProperty"), write=True, batch_update=True
        )
        for i in inputs
    ]
    known = [(item, found) for item, found in zip(inputs, records, strict=True) if found]
    missing = [str(i.get("id", "")) for i, found in zip(inputs, records, strict=True) if not found]

    def prepare(n: int, item: dict[str, Any], claims: Claims) -> Update:
        found = known[n][1]
        return found, prepare_update(state, found, item.get("properties"), claims=claims)

    ready, errors = _prepare_each([i for i, _ in known], prepare, traced=_is_traced(inputs))
    results = [
        _echo_trace(object_json(state, _write_update(state, plan)), item) for item, plan in ready
    ]
    return batch_answer(started, results, errors + _missing(otype, missing), 200)


def _upsert_target(
    state: SandboxState, otype: ObjectType, item: dict[str, Any]
) -> ObjectRecord | None:
    """The object an upsert input names, None to create it; a missing or non-unique
    ``idProperty`` fails the whole batch, traced or not."""
    id_property = item.get("idProperty")
    if not id_property or id_property == "hs_object_id":
        raise validation_error(
            f"Unable to perform update/upsert by non-unique {otype.type_id} property: "
            f"{id_property or 'hs_object_id'}"
        )
    return locate(state, otype, str(item.get("id", "")), id_property, write=True)


def batch_upsert(state: SandboxState, otype: ObjectType, body: Any) -> tuple[int, dict[str, Any]]:
    """Create-or-update by ``idProperty`` (``email`` or a ``hasUniqueValue`` property);
    ``new`` in each result says which happened."""
    started, inputs = state.now(), _inputs(body)
    _no_duplicates(otype, inputs)
    targets = [_upsert_target(state, otype, item) for item in inputs]

    def prepare(n: int, item: dict[str, Any], claims: Claims) -> PendingCreate | Update:
        found, raw_id = targets[n], str(item.get("id", ""))
        if found is not None:
            return found, prepare_update(state, found, item.get("properties"), claims=claims)
        values = {**coerce_input(item.get("properties")), item["idProperty"]: raw_id}
        return prepare_create(state, otype, values, claims=claims, claimant=f"new:{n}")

    ready, errors = _prepare_each(inputs, prepare, traced=_is_traced(inputs))
    results = []
    for item, plan in ready:
        if isinstance(plan, PendingCreate):
            upserted = {**object_json(state, apply_create(state, plan)), "new": True}
        else:
            upserted = {**object_json(state, _write_update(state, plan)), "new": False}
        results.append(_echo_trace(upserted, item))
    return batch_answer(started, results, errors, 200)


def batch_archive(state: SandboxState, otype: ObjectType, body: Any) -> None:
    for item in _inputs(body):
        found = state.record(otype.name, str(item.get("id", "")))
        if found is not None:
            archive(state, found)
