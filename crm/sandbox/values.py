"""Checks every property value of a write the way HubSpot does, collecting all problems.

HubSpot rejects a whole write when any value is bad and lists every bad value in one
400 (see ``errors.property_values_error``). Values are normalised as HubSpot stores
them: e-mails lower-cased, dates as ``YYYY-MM-DD``, datetimes as ISO with ms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PropertyIssue, property_values_error, validation_error
from .properties import PropertyDef
from .timeutil import MS_PER_DAY, date_from_ms, iso_from_ms, parse_instant_ms, time_of_day

_EMAIL = re.compile(
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(?<!\.)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
MAX_STRING = 65_536
DEFAULT_PIPELINE = "default"


@dataclass(frozen=True)
class ValueContext:
    """What validation needs from the portal besides property definitions."""

    defs: Mapping[str, PropertyDef]
    owner_ids: frozenset[str]
    #: pipeline id -> its (unarchived) stage ids; only deals consult it.
    pipelines: Mapping[str, tuple[str, ...]]


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def coerce_input(raw: Any) -> dict[str, str]:
    """The ``properties`` object of a request (required, as in HubSpot's input schemas),
    with JSON scalars turned into strings."""
    if not isinstance(raw, dict):
        raise validation_error("Invalid input JSON: properties is required and must be an object")
    values: dict[str, str] = {}
    for name, value in raw.items():
        if value is None:
            values[name] = ""
        elif isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            values[name] = str(value)
        else:
            raise validation_error(f"Invalid input JSON: value of property {name} must be a string")
    return values


def _check_one(
    prop: PropertyDef, value: str, ctx: ValueContext
) -> tuple[str, PropertyIssue | None]:
    """The stored form of ``value`` or the issue with it."""
    name = prop.name

    def bad(code: str, message: str) -> tuple[str, PropertyIssue]:
        return value, PropertyIssue(name, code, message)

    if prop.type in ("string", "phone_number"):
        if len(value) > MAX_STRING:
            return bad("INVALID_LENGTH", f"{name} is longer than {MAX_STRING} characters")
        if name == "email" and prop.hubspot_defined:
            email = value.strip().lower()
            if not is_email(email):
                return bad("INVALID_EMAIL", f"Email address {value} is invalid")
            return email, None
        return value, None
    if prop.type == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            return bad("INVALID_DECIMAL", f"{value} was not a valid number.")
        return value.strip(), None
    if prop.type == "bool":
        if value.lower() not in ("true", "false"):
            return bad("INVALID_BOOLEAN", f"{value} was not a valid boolean (true or false).")
        return value.lower(), None
    if prop.type == "date":
        ms = parse_instant_ms(value)
        if ms is None:
            return bad("INVALID_DATE", f"{value} was not a valid date (YYYY-MM-DD or epoch ms).")
        if ms % MS_PER_DAY:
            return bad("INVALID_DATE", f"{value} is at {time_of_day(ms)} UTC, not midnight!")
        return date_from_ms(ms), None
    if prop.type == "datetime":
        ms = parse_instant_ms(value)
        if ms is None:
            return bad(
                "INVALID_DATETIME", f"{value} was not a valid datetime (ISO 8601 or epoch ms)."
            )
        return iso_from_ms(ms), None
    if prop.type == "enumeration":
        return _check_enumeration(prop, value, ctx)
    return value, None


def _check_enumeration(
    prop: PropertyDef, value: str, ctx: ValueContext
) -> tuple[str, PropertyIssue | None]:
    if prop.name == "hubspot_owner_id":
        allowed: list[str] = sorted(ctx.owner_ids)
    elif prop.name == "pipeline" and prop.hubspot_defined:
        allowed = list(ctx.pipelines)
    elif prop.name == "dealstage" and prop.hubspot_defined:
        return value, None  # checked against the deal's pipeline afterwards
    else:
        allowed = prop.option_values()
    chosen = value.split(";") if prop.field_type == "checkbox" else [value]
    wrong = [v for v in chosen if v not in allowed]
    if wrong:
        return value, PropertyIssue(
            prop.name,
            "INVALID_OPTION",
            f"{wrong[0]} was not one of the allowed options: [{', '.join(allowed)}]",
        )
    return value, None


def check_values(
    values: dict[str, str],
    ctx: ValueContext,
    *,
    current: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Validate and normalise ``values``; an empty string means "clear this property".

    ``current`` is the object's stored properties (None on create); deal stages are
    checked against the pipeline the deal will be in after the write.
    """
    issues: list[PropertyIssue] = []
    normalised: dict[str, str] = {}
    for name, value in values.items():
        prop = ctx.defs.get(name)
        if prop is None:
            issues.append(
                PropertyIssue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if prop.read_only_value:
            issues.append(
                PropertyIssue(
                    name,
                    "READ_ONLY_VALUE",
                    f"{name} is a read only property; its value cannot be set.",
                )
            )
            continue
        if value == "":
            normalised[name] = ""
            continue
        stored, issue = _check_one(prop, value, ctx)
        if issue:
            issues.append(issue)
        else:
            normalised[name] = stored
    stage = normalised.get("dealstage")
    if stage is None and normalised.get("pipeline") and current:
        stage = current.get("dealstage")  # a pipeline change must keep a valid stage
    if stage and "dealstage" in ctx.defs and ctx.defs["dealstage"].hubspot_defined:
        pipeline = normalised.get("pipeline") or (current or {}).get("pipeline")
        stages = ctx.pipelines.get(pipeline or DEFAULT_PIPELINE)
        if stages is not None and stage not in stages:
            issues.append(
                PropertyIssue(
                    "dealstage",
                    "INVALID_OPTION",
                    f"{stage} was not one of the allowed options: [{', '.join(stages)}]",
                )
            )
    if issues:
        raise property_values_error(issues)
    return normalised
