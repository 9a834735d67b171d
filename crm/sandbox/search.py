"""CRM search (``POST /crm/v3/objects/{type}/search``) over the lagging index.

Search only sees each object's indexed version (``ObjectRecord.searchable``), never
the live one, so a just-created contact is missing for ``search_lag_s`` seconds, as
with HubSpot's eventually consistent index. Limits follow HubSpot's docs: ≤ 200 per
page, 5 filter groups of ≤ 6 filters (18 in all), 10,000 results reachable by paging.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from .errors import validation_error
from .objecttypes import ObjectType, resolve_any
from .properties import PropertyDef
from .records import IndexedVersion, ObjectRecord
from .state import SandboxState
from .timeutil import iso, parse_instant_ms

MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
OPERATORS = frozenset(
    [
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    ]
)
Matcher = Callable[[dict[str, str]], bool]


def _int(body: dict[str, Any], key: str, default: int) -> int:
    raw = body.get(key, default)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise validation_error(f"Invalid input JSON: {key} must be an integer") from None


def _key(prop: PropertyDef, raw: Any) -> Any:
    """Comparable form of a value: numbers and instants numerically, text case-folded."""
    text = str(raw).strip()
    if prop.type == "number":
        try:
            return float(text)
        except ValueError:
            raise validation_error(f"{text} is not a valid number for {prop.name}") from None
    if prop.type in ("date", "datetime"):
        ms = parse_instant_ms(text)
        if ms is None:
            raise validation_error(f"{text} is not a valid date for {prop.name}")
        return ms
    return text.lower()


def _tokens(text: str) -> set[str]:
    lowered = text.lower()
    found = {t for t in re.split(r"[^0-9a-z]+", lowered) if t}
    found.add(lowered)
    if "@" in lowered:
        found.add(lowered.rsplit("@", 1)[1])
    return found


def _contains_token(have: str, wanted: str) -> bool:
    wanted = wanted.lower()
    if "*" in wanted:
        return any(fnmatch.fnmatchcase(t, wanted) for t in _tokens(have))
    return wanted in _tokens(have)


def _association_matcher(
    state: SandboxState, otype: ObjectType, name: str, op: str, raw: dict[str, Any]
) -> Matcher:
    """HubSpot's ``associations.<type>`` pseudo-property: EQ/IN an associated record id."""
    target = resolve_any(name.split(".", 1)[1])
    if op == "EQ" and raw.get("value") is not None:
        wanted = {str(raw["value"])}
    elif op == "IN" and isinstance(raw.get("values"), list):
        wanted = {str(v) for v in raw["values"]}
    else:
        raise validation_error(f"{name} supports only EQ (value) and IN (values)")
    return lambda p: bool(
        wanted & state.linked((otype.name, p.get("hs_object_id", "")), target.name).keys()
    )


def _matcher(state: SandboxState, otype: ObjectType, raw: Any) -> Matcher:
    if not isinstance(raw, dict):
        raise validation_error("Invalid input JSON: a filter must be an object")
    name, op = raw.get("propertyName"), raw.get("operator")
    if op not in OPERATORS:
        raise validation_error(f"Invalid operator: {op}")
    if isinstance(name, str) and name.startswith("associations."):
        return _association_matcher(state, otype, name, op, raw)
    defs = state.property_defs[otype.name]
    prop = defs.get(name) if isinstance(name, str) else None
    if prop is None:
        raise validation_error(f'Property "{name}" does not exist')
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return lambda p: (p.get(name) not in (None, "")) == (op == "HAS_PROPERTY")
    if op in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"Operator {op} requires a values list")
        keys = {_key(prop, v) for v in values}
        inside = lambda p: p.get(name) not in (None, "") and _key(prop, p[name]) in keys  # noqa: E731
        return inside if op == "IN" else (lambda p: not inside(p))
    if raw.get("value") is None:
        raise validation_error(f"Operator {op} requires a value")
    value = str(raw["value"])
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        has = lambda p: p.get(name) not in (None, "") and _contains_token(p[name], value)  # noqa: E731
        return has if op == "CONTAINS_TOKEN" else (lambda p: not has(p))
    low = _key(prop, value)
    if op == "BETWEEN":
        if raw.get("highValue") is None:
            raise validation_error("Operator BETWEEN requires highValue")
        high = _key(prop, raw["highValue"])
        return lambda p: p.get(name) not in (None, "") and low <= _key(prop, p[name]) <= high
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda k: k == low,
        "NEQ": lambda k: k != low,
        "LT": lambda k: k < low,
        "LTE": lambda k: k <= low,
        "GT": lambda k: k > low,
        "GTE": lambda k: k >= low,
    }
    test = compare[op]
    multi = prop.field_type == "checkbox"

    def match(p: dict[str, str]) -> bool:
        have = p.get(name)
        if have in (None, ""):
            return op == "NEQ"
        if multi and op in ("EQ", "NEQ"):
            hit = any(_key(prop, part) == low for part in have.split(";"))
            return hit if op == "EQ" else not hit
        return test(_key(prop, have))

    return match


def _groups(state: SandboxState, otype: ObjectType, raw: Any) -> list[list[Matcher]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_GROUPS:
        raise validation_error(f"filterGroups must be a list of at most {MAX_GROUPS} groups")
    groups: list[list[Matcher]] = []
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Each filter group needs a filters list of at most {MAX_FILTERS_PER_GROUP}"
            )
        groups.append([_matcher(state, otype, f) for f in filters])
    if sum(len(g) for g in groups) > MAX_FILTERS:
        raise validation_error(f"A search may use at most {MAX_FILTERS} filters in all")
    return groups


def _sorts(defs: dict[str, PropertyDef], raw: Any) -> list[tuple[str, bool]]:
    """(property, descending) pairs from objects or the SDK's plain strings."""
    sorts: list[tuple[str, bool]] = []
    for item in raw or []:
        if isinstance(item, str):
            name, descending = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, dict):
            name = item.get("propertyName", "")
            descending = str(item.get("direction", "ASCENDING")).upper() == "DESCENDING"
        else:
            raise validation_error("Invalid input JSON: sorts must be strings or objects")
        if name not in defs:
            raise validation_error(f'Property "{name}" does not exist')
        sorts.append((name, descending))
    return sorts


def _version_json(
    otype: ObjectType, record: ObjectRecord, version: IndexedVersion, names: list[str]
) -> dict[str, Any]:
    modified = version.properties.get(otype.modified_property)
    updated_ms = parse_instant_ms(modified) if modified else None
    return {
        "id": record.id,
        "properties": {n: version.properties.get(n) for n in sorted(names)},
        "createdAt": iso(record.created_at),
        "updatedAt": iso(updated_ms / 1000) if updated_ms is not None else iso(record.updated_at),
        "archived": False,
    }


def search(state: SandboxState, otype: ObjectType, body: Any) -> dict[str, Any]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    defs = state.property_defs[otype.name]
    limit, after = _int(body, "limit", 10), _int(body, "after", 0)
    if not 0 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 0 and {MAX_LIMIT}; got {limit}")
    if not 0 <= after < MAX_RESULTS:
        raise validation_error(f"after must be between 0 and {MAX_RESULTS - 1}; got {after}")
    groups = _groups(state, otype, body.get("filterGroups"))
    sorts = _sorts(defs, body.get("sorts"))
    query = str(body.get("query") or "").strip().lower()
    requested = [p for p in body.get("properties") or [] if isinstance(p, str) and p in defs]
    names = list(
        dict.fromkeys([*(requested or otype.default_properties), *otype.always_properties])
    )

    now = state.now()
    hits: list[tuple[ObjectRecord, IndexedVersion]] = []
    for record in state.objects[otype.name].values():
        version = record.searchable(now)
        if version is None or version.archived:
            continue
        props = version.properties
        if groups and not any(all(m(props) for m in group) for group in groups):
            continue
        if query and not any(query in props.get(p, "").lower() for p in otype.searchable):
            continue
        hits.append((record, version))
    hits.sort(key=lambda hit: int(hit[0].id))
    for name, descending in reversed(sorts):
        have = [h for h in hits if h[1].properties.get(name) not in (None, "")]
        lacking = [h for h in hits if h[1].properties.get(name) in (None, "")]
        have.sort(key=lambda h: _key(defs[name], h[1].properties[name]), reverse=descending)
        hits = have + lacking
    page = hits[after : after + limit]
    answer: dict[str, Any] = {
        "total": len(hits),
        "results": [_version_json(otype, r, v, names) for r, v in page],
    }
    if limit and after + limit < min(len(hits), MAX_RESULTS):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return answer
