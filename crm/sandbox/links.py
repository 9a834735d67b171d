"""Association checks that need the portal's contents.

``associations.py`` knows which type ids exist; this module resolves a client's
``AssociationSpec`` against them (including USER_DEFINED labels the portal created),
validates the inline ``associations`` of a create, and renders the v3 read map.
Call with ``state.lock`` held.
"""

from __future__ import annotations

from typing import Any

from .associations import CATEGORIES, STANDARD, AssociationDef, find
from .errors import ApiError, validation_error
from .objecttypes import OBJECT_TYPES, ObjectType, resolve_any
from .records import ObjectRecord
from .state import SandboxState


def find_all(state: SandboxState) -> list[AssociationDef]:
    """Every definition: HubSpot's standard ones and the portal's labels."""
    return [*STANDARD, *state.labels]


def _type_or_none(raw: str) -> ObjectType | None:
    try:
        return resolve_any(raw)
    except ApiError:
        return None


def associations_json(
    state: SandboxState, record: ObjectRecord, wanted: list[str]
) -> dict[str, dict[str, Any]]:
    """The v3 ``associations`` map: ``{"deals": {"results": [{"id", "type"}]}}``."""
    source = OBJECT_TYPES[record.object_type]
    names = {(d.from_type, d.type_id): d.name for d in find_all(state)}
    found: dict[str, dict[str, Any]] = {}
    for raw in wanted:
        target = _type_or_none(raw)
        if target is None:
            continue
        linked = state.linked((source.name, record.id), target.name)
        results = [
            {"id": to_id, "type": names.get((source.name, type_id), str(type_id))}
            for to_id in sorted(linked, key=int)
            for _, type_id in sorted(linked[to_id], key=lambda kind: kind[1])
        ]
        if results:
            found[target.name] = {"results": results}
    return found


def inline_associations(
    state: SandboxState, otype: ObjectType, raw: Any
) -> list[tuple[AssociationDef, str]]:
    """Validate inline ``associations`` of a create: real type ids, existing targets."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation_error("Invalid input JSON: associations must be a list")
    links: list[tuple[AssociationDef, str]] = []
    for item in raw:
        to = item.get("to") if isinstance(item, dict) else None
        types = item.get("types") if isinstance(item, dict) else None
        if not isinstance(to, dict) or to.get("id") in (None, "") or not types:
            raise validation_error("Each association needs to.id and at least one type")
        to_id = str(to["id"])
        for spec in types if isinstance(types, list) else [types]:
            definition = spec_definition(state, otype, spec)
            if (
                definition.to_type not in OBJECT_TYPES
                or state.record(definition.to_type, to_id) is None
            ):
                raise validation_error(
                    "One or more associations are invalid",
                    errors=[
                        {
                            "message": f"No {definition.to_type} object with ID {to_id} exists",
                            "code": "INVALID_ASSOCIATION_TARGET",
                            "context": {"id": [to_id]},
                        }
                    ],
                )
            links.append((definition, to_id))
    return links


def spec_definition(
    state: SandboxState, otype: ObjectType, spec: Any, to_type: str | None = None
) -> AssociationDef:
    """The definition an ``AssociationSpec`` names, or HubSpot's 400."""
    if not isinstance(spec, dict):
        raise validation_error("Invalid input JSON: association type must be an object")
    category, type_id = spec.get("associationCategory"), spec.get("associationTypeId")
    if category not in CATEGORIES or isinstance(type_id, bool) or not isinstance(type_id, int):
        raise validation_error(
            "associationCategory must be one of HUBSPOT_DEFINED, USER_DEFINED, "
            "INTEGRATOR_DEFINED and associationTypeId an integer"
        )
    definition = find(otype.name, category, type_id, tuple(state.labels))
    if definition is None or (to_type is not None and definition.to_type != to_type):
        target = f" to {to_type}" if to_type else ""
        raise validation_error(
            f"{category} association type {type_id} is not valid from {otype.name}{target}",
            errors=[
                {
                    "message": f"Invalid association type id {type_id}",
                    "code": "INVALID_ASSOCIATION_TYPE",
                    "context": {"associationTypeId": [str(type_id)]},
                }
            ],
        )
    return definition
