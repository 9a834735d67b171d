"""The CRM object types the sandbox holds and the names clients may use for them.

HubSpot accepts a type by plural name, singular name or object-type id depending on
the API (v3 object routes: plural or id; v4 associations, properties, pipelines:
any). One table keeps those spellings and the per-type defaults together.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError, validation_error


@dataclass(frozen=True)
class ObjectType:
    name: str  # plural API name, e.g. "contacts"
    singular: str
    type_id: str  # e.g. "0-1"
    label: str  # upper-case name HubSpot uses in messages, e.g. "CONTACT"
    #: Properties returned when a read names none.
    default_properties: tuple[str, ...]
    #: Properties always returned alongside the requested ones.
    always_properties: tuple[str, ...]
    created_property: str
    modified_property: str
    #: Text properties free-text ``query`` search looks at.
    searchable: tuple[str, ...]


CONTACTS = ObjectType(
    name="contacts",
    singular="contact",
    type_id="0-1",
    label="CONTACT",
    default_properties=(
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    always_properties=("createdate", "hs_object_id", "lastmodifieddate"),
    created_property="createdate",
    modified_property="lastmodifieddate",
    searchable=("email", "firstname", "lastname", "phone", "mobilephone", "company", "website"),
)
DEALS = ObjectType(
    name="deals",
    singular="deal",
    type_id="0-3",
    label="DEAL",
    default_properties=(
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    always_properties=("createdate", "hs_lastmodifieddate", "hs_object_id"),
    created_property="createdate",
    modified_property="hs_lastmodifieddate",
    searchable=("dealname",),
)
NOTES = ObjectType(
    name="notes",
    singular="note",
    type_id="0-46",
    label="NOTE",
    default_properties=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    always_properties=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    created_property="hs_createdate",
    modified_property="hs_lastmodifieddate",
    searchable=("hs_note_body",),
)

OBJECT_TYPES: dict[str, ObjectType] = {t.name: t for t in (CONTACTS, DEALS, NOTES)}
_V3_NAMES = {spelling: t for t in OBJECT_TYPES.values() for spelling in (t.name, t.type_id)}
_ANY_NAMES = {**_V3_NAMES, **{t.singular: t for t in OBJECT_TYPES.values()}}


def _unknown(raw: str) -> ApiError:
    return validation_error(f"Unable to infer object type from: {raw}")


def resolve_v3(raw: str) -> ObjectType:
    """The type for a ``/crm/v3/objects/{objectType}`` segment (plural name or id)."""
    found = _V3_NAMES.get(raw.lower())
    if found is None:
        raise _unknown(raw)
    return found


def resolve_any(raw: str) -> ObjectType:
    """The type for APIs that also take the singular name (v4, properties, pipelines)."""
    found = _ANY_NAMES.get(raw.lower())
    if found is None:
        raise _unknown(raw)
    return found
