"""Association type definitions: which type ids are valid between which object types.

HubSpot validates every association against its definitions for the (from, to)
pair, and stores each association in both directions with the inverse type id
(deal→contact 3 pairs with contact→deal 4). The HUBSPOT_DEFINED ids below are the
SDK's ``hubspot.crm.association_type`` constants (FACTS B6). Company pairs are
listed so their ids are recognised, although the sandbox holds no companies.
"""

from __future__ import annotations

from dataclasses import dataclass

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
USER_DEFINED = "USER_DEFINED"
CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")


@dataclass(frozen=True)
class AssociationDef:
    from_type: str
    to_type: str
    category: str
    type_id: int
    inverse_id: int
    name: str
    label: str | None = None


def _pair(
    a: str, b: str, a_to_b: int, b_to_a: int, name: str, inverse: str, label: str | None = None
) -> list[AssociationDef]:
    return [
        AssociationDef(a, b, HUBSPOT_DEFINED, a_to_b, b_to_a, name, label),
        AssociationDef(b, a, HUBSPOT_DEFINED, b_to_a, a_to_b, inverse, label),
    ]


#: The first definition listed for a (from, to) pair is its default (unlabelled) one.
STANDARD: tuple[AssociationDef, ...] = tuple(
    _pair("deals", "contacts", 3, 4, "deal_to_contact", "contact_to_deal")
    + _pair("notes", "contacts", 202, 201, "note_to_contact", "contact_to_note")
    + _pair("notes", "deals", 214, 213, "note_to_deal", "deal_to_note")
    + _pair(
        "contacts",
        "companies",
        279,
        280,
        "contact_to_company_unlabeled",
        "company_to_contact_unlabeled",
    )
    + _pair("contacts", "companies", 1, 2, "contact_to_company", "company_to_contact", "Primary")
    + _pair(
        "deals", "companies", 341, 342, "deal_to_company_unlabeled", "company_to_deal_unlabeled"
    )
    + _pair("deals", "companies", 5, 6, "deal_to_company", "company_to_deal", "Primary")
    + _pair("notes", "companies", 190, 189, "note_to_company", "company_to_note")
)


def definitions(
    from_type: str, to_type: str, extra: tuple[AssociationDef, ...] = ()
) -> list[AssociationDef]:
    """Every definition from ``from_type`` to ``to_type`` (standard first, then labels)."""
    return [d for d in (*STANDARD, *extra) if d.from_type == from_type and d.to_type == to_type]


def find(
    from_type: str, category: str, type_id: int, extra: tuple[AssociationDef, ...] = ()
) -> AssociationDef | None:
    """The definition a spec names when only the source type is known (inline create)."""
    for d in (*STANDARD, *extra):
        if d.from_type == from_type and d.category == category and d.type_id == type_id:
            return d
    return None


def default_for(from_type: str, to_type: str) -> AssociationDef | None:
    found = definitions(from_type, to_type)
    return found[0] if found else None
