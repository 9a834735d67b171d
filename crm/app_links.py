"""Links to records in HubSpot's own web app, for people (the API paths live in `client`)."""

from __future__ import annotations

#: HubSpot's object type ids, as its record URLs spell them.
OBJECT_TYPE_IDS = {"contact": "0-1", "deal": "0-3"}


def record_url(portal_id: str | None, object_type: str, object_id: str | None) -> str | None:
    """The record's page in HubSpot; None without a portal id (set HUBSPOT_PORTAL_ID) or id."""
    if not portal_id or not object_id:
        return None
    type_id = OBJECT_TYPE_IDS[object_type]
    return f"https://app.hubspot.com/contacts/{portal_id}/record/{type_id}/{object_id}"
