"""The owners (HubSpot users) a sandbox portal has, so ``hubspot_owner_id`` can be set
and validated like in a real account."""

from __future__ import annotations

from typing import Any

from .timeutil import iso

_SEED = (
    ("75001001", "ada@sandbox.example", "Ada", "Lovelace", 9001001),
    ("75001002", "grace@sandbox.example", "Grace", "Hopper", 9001002),
)


def seed_owners(now: float) -> list[dict[str, Any]]:
    """``PublicOwner`` bodies for the seeded users."""
    return [
        {
            "id": owner_id,
            "email": email,
            "type": "PERSON",
            "firstName": first,
            "lastName": last,
            "userId": user_id,
            "userIdIncludingInactive": user_id,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "archived": False,
            "teams": [],
        }
        for owner_id, email, first, last, user_id in _SEED
    ]
