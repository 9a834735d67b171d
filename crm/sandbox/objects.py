"""Reading and writing single CRM objects with HubSpot's rules.

Writes are split into *prepare* (validate everything, touch nothing) and *apply*
(store), so batch endpoints can reject a whole batch before changing anything and
single writes share exactly the same checks. Call these with ``state.lock`` held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .associations import AssociationDef
from .errors import ApiError, PropertyIssue, not_found, property_values_error, validation_error
from .links import associations_json, inline_associations
from .objecttypes import CONTACTS, DEALS, NOTES, OBJECT_TYPES, ObjectType
from .records import ObjectRecord
from .state import SandboxState
from .timeutil import iso
from .values import DEFAULT_PIPELINE, check_values, coerce_input

#: Properties an object must always have, as HubSpot requires for engagements.
REQUIRED: dict[str, tuple[str, ...]] = {NOTES.name: ("hs_timestamp",)}

#: (property, value) -> who in the current write holds it (object id or "new:N").
Claims = dict[tuple[str, str], str]


@dataclass
class PendingCreate:
    object_type: ObjectType
    properties: dict[str, str]
    links: list[tuple[AssociationDef, str]] = field(default_factory=list)


# --- reading -----------------------------------------------------------------------------


def object_json(
    state: SandboxState,
    record: ObjectRecord,
    properties: list[str] | None = None,
    *,
    history: list[str] | None = None,
    associations: list[str] | None = None,
) -> dict[str, Any]:
    """A ``SimplePublicObject``. With ``properties`` None, every stored value is returned
    (write answers); otherwise the named ones plus the always-present ones, ``null`` when
    unset, as HubSpot does for reads."""
    otype = OBJECT_TYPES[record.object_type]
    if properties is None:
        shown: dict[str, str | None] = dict(record.properties)
    else:
        defs = state.property_defs[otype.name]
        names = [n for n in dict.fromkeys([*properties, *otype.always_properties]) if n in defs]
        shown = {n: record.properties.get(n) for n in sorted(names)}
    body: dict[str, Any] = {
        "id": record.id,
        "properties": shown,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "archived": record.archived,
    }
    if record.archived_at is not None:
        body["archivedAt"] = iso(record.archived_at)
    if history:
        body["propertiesWithHistory"] = record.history_json(history)
    if associations:
        found = associations_json(state, record, associations)
        if found:
            body["associations"] = found
    return body


def locate(
    state: SandboxState,
    otype: ObjectType,
    raw_id: str,
    id_property: str | None,
    *,
    write: bool,
    batch_update: bool = False,
    archived: bool = False,
) -> ObjectRecord | None:
    """The object ``raw_id`` names, by record id or by a unique property.

    HubSpot allows ``idProperty`` only for unique properties: ``email`` for contacts
    (except in batch update) and properties created with ``hasUniqueValue``.
    """
    if not id_property or id_property == "hs_object_id":
        return state.record(otype.name, raw_id.strip(), archived=archived)
    prop = state.property_defs[otype.name].get(id_property)
    if prop is None:
        raise validation_error(f'Property "{id_property}" does not exist')
    email = otype is CONTACTS and id_property == "email" and not batch_update
    if not (prop.has_unique_value or email):
        action = "update/upsert" if write else "read"
        raise validation_error(
            f"Unable to perform {action} by non-unique {otype.type_id} property: {id_property}"
        )
    found = state.find_unique(otype.name, id_property, raw_id)
    if found is not None and found.archived != archived:
        return None
    return found


def require(
    state: SandboxState, otype: ObjectType, raw_id: str, id_property: str | None, **kwargs: Any
) -> ObjectRecord:
    found = locate(state, otype, raw_id, id_property, **kwargs)
    if found is None:
        raise not_found()
    return found


# --- writing -----------------------------------------------------------------------------


def _conflict_contact(email: str, existing_id: str) -> ApiError:
    return ApiError(
        409,
        "CONFLICT",
        f"Contact already exists. Existing ID: {existing_id}",
        errors=[
            {
                "message": (
                    f"A contact with email {email} already exists. Existing ID: {existing_id}"
                ),
                "in": "email",
            }
        ],
    )


def _check_unique(
    state: SandboxState,
    otype: ObjectType,
    values: dict[str, str],
    claimant: str,
    claims: Claims,
) -> None:
    """Reject values another object (or another input of this batch) already holds.

    Contacts' e-mail gives HubSpot's 409 "Contact already exists. Existing ID: N".
    For ``hasUniqueValue`` properties HubSpot answers 400 VALIDATION_ERROR ("... already
    has that value"), not 409, so clients must not treat it as the contact conflict.
    """
    defs = state.property_defs[otype.name]
    issues: list[PropertyIssue] = []
    for name, value in values.items():
        is_email = otype is CONTACTS and name == "email"
        if not value or not (is_email or defs[name].has_unique_value):
            continue
        key = (name, value.lower() if is_email else value)
        holder = state.find_unique(otype.name, name, value)
        holder_id = holder.id if holder is not None else None
        claimed = claims.get(key)
        if holder_id is not None and holder_id != claimant:
            if is_email:
                raise _conflict_contact(value, holder_id)
            issues.append(
                PropertyIssue(
                    name,
                    "INVALID_UNIQUE_VALUE",
                    f"{value} already has that value: {otype.label} {holder_id} has {name}={value}",
                )
            )
        elif claimed is not None and claimed != claimant:
            raise validation_error(f"Duplicate {name} value in batch input: {value}")
        claims[key] = claimant
    if issues:
        raise property_values_error(issues)


def _require_properties(otype: ObjectType, missing: list[str], verb: str = "creating") -> None:
    if missing:
        raise validation_error(
            f"Error {verb} {otype.label}. Some required properties were not set.",
            context={"properties": missing},
            errors=[
                {
                    "message": f"Property {name} is required",
                    "code": "REQUIRED_PROPERTY",
                    "context": {"propertyName": [name]},
                }
                for name in missing
            ],
        )


def prepare_create(
    state: SandboxState,
    otype: ObjectType,
    raw_properties: Any,
    raw_associations: Any = None,
    *,
    claims: Claims | None = None,
    claimant: str = "new",
) -> PendingCreate:
    values = check_values(coerce_input(raw_properties), state.value_context(otype.name))
    values = {k: v for k, v in values.items() if v != ""}
    _require_properties(otype, [p for p in REQUIRED.get(otype.name, ()) if p not in values])
    _check_unique(state, otype, values, claimant, {} if claims is None else claims)
    links = inline_associations(state, otype, raw_associations)
    return PendingCreate(otype, values, links)


def apply_create(state: SandboxState, pending: PendingCreate) -> ObjectRecord:
    otype, now = pending.object_type, state.now()
    object_id = state.new_id()
    properties = dict(pending.properties)
    if otype is DEALS:
        properties.setdefault("pipeline", DEFAULT_PIPELINE)
    stamp = iso(now)
    properties.update(
        {otype.created_property: stamp, otype.modified_property: stamp, "hs_object_id": object_id}
    )
    record = ObjectRecord(otype.name, object_id, properties, now, now)
    record.remember(properties, now)
    record.index(now, state.search_lag_s)
    state.objects[otype.name][object_id] = record
    for definition, to_id in pending.links:
        state.link((otype.name, object_id), (definition.to_type, to_id), definition)
    return record


def prepare_update(
    state: SandboxState,
    record: ObjectRecord,
    raw_properties: Any,
    *,
    claims: Claims | None = None,
) -> dict[str, str]:
    otype = OBJECT_TYPES[record.object_type]
    changes = check_values(
        coerce_input(raw_properties), state.value_context(otype.name), current=record.properties
    )
    cleared = [p for p in REQUIRED.get(otype.name, ()) if changes.get(p) == ""]
    _require_properties(otype, cleared, "updating")
    _check_unique(state, otype, changes, record.id, {} if claims is None else claims)
    return changes


def apply_update(state: SandboxState, record: ObjectRecord, changes: dict[str, str]) -> None:
    """Overwrite the given properties; an empty string clears one."""
    otype, now = OBJECT_TYPES[record.object_type], state.now()
    for name, value in changes.items():
        if value == "":
            record.properties.pop(name, None)
        else:
            record.properties[name] = value
    record.properties[otype.modified_property] = iso(now)
    record.updated_at = now
    record.remember({**changes, otype.modified_property: iso(now)}, now)
    record.index(now, state.search_lag_s)


def archive(state: SandboxState, record: ObjectRecord) -> None:
    """DELETE: restorable in HubSpot, so only marked; it leaves search after the lag."""
    now = state.now()
    record.archived, record.archived_at, record.updated_at = True, now, now
    record.index(now, state.search_lag_s)
