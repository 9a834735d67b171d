"""What the sandbox tests send again and again: HubSpot's spec files to check answers
against, and the association pieces of create and v4 bodies."""

from __future__ import annotations

from typing import Any

CONTACTS_SPEC = "crm-contacts-v3.json"
#: The deals spec that still spells ``/crm/v3/objects/deals``, the path the SDK calls.
DEALS_SPEC = "crm-deals-v3.2025-08-01-named-path.json"
NOTES_SPEC = "crm-notes-v3.json"
ASSOC_SPEC = "crm-associations-v4.json"
TIMELINE_SPEC = "crm-timeline-v3.json"

#: HUBSPOT_DEFINED type ids the product sends (FACTS B6), from the new object's side.
DEAL_TO_CONTACT, NOTE_TO_CONTACT, NOTE_TO_DEAL = 3, 202, 214


def association_type(type_id: int) -> dict[str, Any]:
    """An ``AssociationSpec`` of a HUBSPOT_DEFINED type."""
    return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}


def associated(to_id: str, type_id: int) -> dict[str, Any]:
    """One inline association of a create body."""
    return {"to": {"id": to_id}, "types": [association_type(type_id)]}
