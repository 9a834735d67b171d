"""Property definitions: HubSpot's standard ones for a fresh portal, and the rules the
properties API applies when a client creates or changes a definition.

Value checks for object writes live in ``values.py``; this module only knows what a
property *is* (type, field type, options, uniqueness, read-only-ness).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ApiError, validation_error
from .objecttypes import CONTACTS, DEALS, NOTES
from .timeutil import iso

#: Which field types HubSpot allows for each property type.
FIELD_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"text", "textarea", "html", "file"}),
    "number": frozenset({"number", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox"}),
    "bool": frozenset({"booleancheckbox"}),
    "phone_number": frozenset({"phonenumber"}),
}
ALL_FIELD_TYPES = frozenset().union(*FIELD_TYPES.values())
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MAX_UNIQUE_PER_OBJECT = 10


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    display_order: int = -1
    hubspot_defined: bool = False
    read_only_value: bool = False
    read_only_definition: bool = False
    external_options: bool = False
    referenced_object_type: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def option_values(self) -> list[str]:
        return [str(o["value"]) for o in self.options]

    def to_json(self) -> dict[str, Any]:
        """The ``Property`` (SDK ``ModelProperty``) wire shape."""
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": False,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "formField": self.form_field,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": False,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        return body


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (value, label) in enumerate(pairs)
    ]


LIFECYCLE_STAGES = _options(
    [
        ("subscriber", "Subscriber"),
        ("lead", "Lead"),
        ("marketingqualifiedlead", "Marketing Qualified Lead"),
        ("salesqualifiedlead", "Sales Qualified Lead"),
        ("opportunity", "Opportunity"),
        ("customer", "Customer"),
        ("evangelist", "Evangelist"),
        ("other", "Other"),
    ]
)
LEAD_STATUSES = _options(
    [
        ("NEW", "New"),
        ("OPEN", "Open"),
        ("IN_PROGRESS", "In Progress"),
        ("OPEN_DEAL", "Open Deal"),
        ("UNQUALIFIED", "Unqualified"),
        ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
        ("CONNECTED", "Connected"),
        ("BAD_TIMING", "Bad Timing"),
    ]
)
DEAL_TYPES = _options([("newbusiness", "New Business"), ("existingbusiness", "Existing Business")])

#: (name, label, type, fieldType, extra) per object type; every one is HubSpot-defined.
_STANDARD: dict[str, list[tuple[str, str, str, str, dict[str, Any]]]] = {
    CONTACTS.name: [
        ("email", "Email", "string", "text", {}),
        ("firstname", "First Name", "string", "text", {}),
        ("lastname", "Last Name", "string", "text", {}),
        ("company", "Company Name", "string", "text", {}),
        ("jobtitle", "Job Title", "string", "text", {}),
        ("phone", "Phone Number", "string", "phonenumber", {}),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", {}),
        ("country", "Country/Region", "string", "text", {}),
        ("city", "City", "string", "text", {}),
        ("state", "State/Region", "string", "text", {}),
        ("zip", "Postal Code", "string", "text", {}),
        ("address", "Street Address", "string", "text", {}),
        ("website", "Website URL", "string", "text", {}),
        ("message", "Message", "string", "textarea", {}),
        (
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            {"options": LIFECYCLE_STAGES},
        ),
        ("hs_lead_status", "Lead Status", "enumeration", "radio", {"options": LEAD_STATUSES}),
    ],
    DEALS.name: [
        ("dealname", "Deal Name", "string", "text", {}),
        ("amount", "Amount", "number", "number", {}),
        ("pipeline", "Pipeline", "enumeration", "select", {"external_options": True}),
        ("dealstage", "Deal Stage", "enumeration", "radio", {"external_options": True}),
        ("closedate", "Close Date", "datetime", "date", {}),
        ("dealtype", "Deal Type", "enumeration", "radio", {"options": DEAL_TYPES}),
        ("description", "Deal Description", "string", "textarea", {}),
    ],
    NOTES.name: [
        ("hs_note_body", "Note body", "string", "html", {}),
        ("hs_timestamp", "Activity date", "datetime", "date", {}),
        ("hs_attachment_ids", "Attachment IDs", "string", "text", {}),
    ],
}
_GROUPS = {
    CONTACTS.name: "contactinformation",
    DEALS.name: "dealinformation",
    NOTES.name: "engagement",
}
GROUP_LABELS = {
    "contactinformation": "Contact information",
    "dealinformation": "Deal information",
    "engagement": "Engagement",
}
_OWNER = (
    "hubspot_owner_id",
    "Owner",
    "enumeration",
    "select",
    {"external_options": True, "referenced_object_type": "OWNER"},
)
_READ_ONLY: dict[str, list[tuple[str, str, str, str]]] = {
    CONTACTS.name: [
        ("createdate", "Create Date", "datetime", "date"),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date"),
    ],
    DEALS.name: [
        ("createdate", "Create Date", "datetime", "date"),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
    ],
    NOTES.name: [
        ("hs_createdate", "Created at", "datetime", "date"),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
    ],
}


def standard_properties(object_type: str, now: float) -> dict[str, PropertyDef]:
    """The properties a fresh portal has for ``object_type``; no custom ones."""
    group = _GROUPS[object_type]
    defs: dict[str, PropertyDef] = {}
    writable = [*_STANDARD[object_type], _OWNER]
    for order, (name, label, type_, field_type, extra) in enumerate(writable):
        defs[name] = PropertyDef(
            name, label, type_, field_type, group, display_order=order, hubspot_defined=True,
            form_field=object_type == CONTACTS.name, created_at=now, updated_at=now,
            options=[dict(o) for o in extra.get("options", [])],
            external_options=extra.get("external_options", False),
            referenced_object_type=extra.get("referenced_object_type"),
        )  # fmt: skip
    read_only = [*_READ_ONLY[object_type], ("hs_object_id", "Record ID", "number", "number")]
    for name, label, type_, field_type in read_only:
        defs[name] = PropertyDef(
            name, label, type_, field_type, group, hubspot_defined=True, read_only_value=True,
            read_only_definition=True, created_at=now, updated_at=now,
        )  # fmt: skip
    return defs


def standard_groups(object_type: str) -> list[str]:
    return [_GROUPS[object_type]]


# --- the properties API's rules for definitions ---------------------------------------


def _check_options(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise validation_error("options must be a list")
    options: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            raise validation_error(f"options[{i}].label is required")
        value = item.get("value")
        if not isinstance(value, str) or value == "":
            raise validation_error(f"options[{i}].value is required")
        if value in seen:
            raise validation_error(f"Duplicate option value: {value}")
        seen.add(value)
        order = item.get("displayOrder", i)
        options.append(
            {
                "label": item["label"],
                "value": value,
                "displayOrder": order if isinstance(order, int) else i,
                "hidden": bool(item.get("hidden", False)),
            }
        )
    return options


def _check_types(type_: Any, field_type: Any) -> None:
    if type_ not in FIELD_TYPES:
        raise validation_error(
            f"Invalid property type: {type_}. Allowed: {', '.join(sorted(FIELD_TYPES))}",
            errors=[{"message": f"Invalid type {type_}", "code": "INVALID_TYPE", "in": "type"}],
        )
    if field_type not in FIELD_TYPES[type_]:
        raise validation_error(
            f"fieldType {field_type} is not valid for a property of type {type_}. "
            f"Allowed: {', '.join(sorted(FIELD_TYPES[type_]))}",
            errors=[
                {
                    "message": f"Invalid fieldType {field_type} for type {type_}",
                    "code": "INVALID_FIELD_TYPE",
                    "in": "fieldType",
                }
            ],
        )


def _bool_options(type_: str, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if type_ == "bool" and not options:
        return _options([("true", "Yes"), ("false", "No")])
    return options


def create_definition(
    body: Any,
    object_type: str,
    existing: dict[str, PropertyDef],
    groups: set[str],
    now: float,
) -> PropertyDef:
    """Validate a ``PropertyCreate`` body; raise HubSpot's error or return the new property."""
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise validation_error(
            f"Missing required fields: {', '.join(missing)}",
            errors=[
                {"message": f"{k} is required", "code": "REQUIRED_FIELD", "in": k} for k in missing
            ],
        )
    name = body["name"]
    if not isinstance(name, str) or not _NAME.match(name) or name.startswith("hs_"):
        raise validation_error(
            f"Property name '{name}' is invalid: use lower-case letters, digits and underscores, "
            "starting with a letter (the hs_ prefix is reserved)"
        )
    if name in existing:
        raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
    _check_types(body["type"], body["fieldType"])
    if body["groupName"] not in groups:
        raise validation_error(f"Property group '{body['groupName']}' does not exist.")
    options = _bool_options(body["type"], _check_options(body.get("options", [])))
    unique = bool(body.get("hasUniqueValue", False))
    if unique:
        if body["type"] not in ("string", "number") or body["fieldType"] not in ("text", "number"):
            raise validation_error("Only single-line text and number properties can be unique.")
        if sum(p.has_unique_value for p in existing.values()) >= MAX_UNIQUE_PER_OBJECT:
            raise validation_error(
                f"An object can have at most {MAX_UNIQUE_PER_OBJECT} unique-value properties."
            )
    order = body.get("displayOrder", -1)
    return PropertyDef(
        name=name,
        label=str(body["label"]),
        type=body["type"],
        field_type=body["fieldType"],
        group_name=body["groupName"],
        description=str(body.get("description") or ""),
        options=options,
        has_unique_value=unique,
        hidden=bool(body.get("hidden", False)),
        form_field=bool(body.get("formField", False)),
        display_order=order if isinstance(order, int) else -1,
        created_at=now,
        updated_at=now,
    )


def update_definition(current: PropertyDef, body: Any, groups: set[str], now: float) -> PropertyDef:
    """Apply a ``PropertyUpdate`` body; ``hasUniqueValue`` and ``name`` cannot change."""
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    if current.read_only_definition:
        raise validation_error(f"Property '{current.name}' has a read-only definition.")
    changed = replace(current, options=[dict(o) for o in current.options], updated_at=now)
    if "label" in body:
        changed.label = str(body["label"])
    if "description" in body:
        changed.description = str(body["description"] or "")
    if "groupName" in body:
        if body["groupName"] not in groups:
            raise validation_error(f"Property group '{body['groupName']}' does not exist.")
        changed.group_name = body["groupName"]
    if "hidden" in body:
        changed.hidden = bool(body["hidden"])
    if "formField" in body:
        changed.form_field = bool(body["formField"])
    if isinstance(body.get("displayOrder"), int):
        changed.display_order = body["displayOrder"]
    changed.type = body.get("type", changed.type)
    changed.field_type = body.get("fieldType", changed.field_type)
    _check_types(changed.type, changed.field_type)
    if changed.has_unique_value and changed.type not in ("string", "number"):
        raise validation_error("A unique-value property must stay text or number.")
    if "options" in body:
        changed.options = _bool_options(changed.type, _check_options(body["options"]))
    return changed
