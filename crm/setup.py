"""Make a HubSpot portal (or the sandbox) ready for the mapping: `just hubspot-setup`.

Idempotent: creates what is missing, adds missing picklist options, leaves the rest alone.
"""

from __future__ import annotations

import logging
from typing import Any

from crm.client import HubSpotClient
from crm.mapping import PropertyMap

log = logging.getLogger(__name__)


class PortalNotReady(RuntimeError):
    """The portal lacks something setup cannot create for us (a pipeline or stage)."""


def set_up_portal(client: HubSpotClient, property_map: PropertyMap) -> list[str]:
    """Bring the portal in line with `hubspot_properties.json`; returns what was changed."""
    changes: list[str] = []
    for object_type, definitions in property_map.custom_properties.items():
        existing = client.list_properties(object_type)
        for definition in definitions:
            changes += _ensure_property(client, property_map, object_type, definition, existing)
    _check_pipelines(client, property_map)
    for change in changes:
        log.info("hubspot setup: %s", change)
    return changes


def _ensure_property(
    client: HubSpotClient,
    property_map: PropertyMap,
    object_type: str,
    definition: dict[str, Any],
    existing: dict[str, dict[str, Any]],
) -> list[str]:
    wanted = {key: value for key, value in definition.items() if key != "picklist"}
    options = _options(property_map, definition.get("picklist"))
    if options:
        wanted["options"] = options
    name = wanted["name"]
    current = existing.get(name)
    if current is None:
        client.create_property(object_type, wanted)
        return [f"created {object_type} property {name}"]
    have = {option["value"] for option in current.get("options") or []}
    missing = [option for option in options if option["value"] not in have]
    if not missing:
        return []
    merged = [_option_input(option) for option in current.get("options") or []] + missing
    client.update_property(object_type, name, {"options": merged})
    return [f"added {len(missing)} option(s) to {object_type} property {name}"]


def _options(property_map: PropertyMap, picklist: str | None) -> list[dict[str, Any]]:
    if not picklist:
        return []
    return [
        {"label": label, "value": value, "displayOrder": order, "hidden": False}
        for order, (value, label) in enumerate(property_map.picklists[picklist].items())
    ]


def _option_input(option: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": option["label"],
        "value": option["value"],
        "displayOrder": option.get("display_order", option.get("displayOrder", 0)),
        "hidden": bool(option.get("hidden", False)),
    }


def _check_pipelines(client: HubSpotClient, property_map: PropertyMap) -> None:
    """Deal stages are pipeline-specific ids that only a portal admin should create."""
    pipelines = {pipeline["id"]: pipeline for pipeline in client.list_pipelines("deals")}
    for form in property_map.forms.values():
        pipeline = pipelines.get(form.deal.pipeline)
        if pipeline is None:
            raise PortalNotReady(
                f"Deal pipeline {form.deal.pipeline!r} (form {form.form_type}) does not exist; "
                "create it in HubSpot or change the form's deal pipeline in "
                "hubspot_properties.json."
            )
        stages = {stage["id"] for stage in pipeline.get("stages") or []}
        if form.deal.stage not in stages:
            raise PortalNotReady(
                f"Deal stage {form.deal.stage!r} is not in pipeline {form.deal.pipeline!r} "
                f"(form {form.form_type}); known stages: {', '.join(sorted(stages))}."
            )
