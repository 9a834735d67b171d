"""What goes where in HubSpot, read from `hubspot_properties.json` rather than coded.

`PropertyMap.clean` validates a posted form and normalises every value; the `*_properties`
methods turn a cleaned form into the property dicts HubSpot receives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm.transforms import (
    BOOLEAN_TRANSFORMS,
    BUILTIN_CLEANERS,
    Cleaner,
    InvalidValue,
    picklist_cleaner,
)

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "hubspot_properties.json"

#: HubSpot joins the values of a multi-select property with semicolons.
MULTI_VALUE_SEPARATOR = ";"

Cleaned = dict[str, str | list[str]]

#: What a ticked checkbox or a JSON `true` looks like when posted.
YES = frozenset({"true", "on", "yes", "1"})
#: The most characters a value (or one choice of a multi-select) takes when the mapping
#: names no `max_length`: every value is stored as posted, so none is unbounded.
DEFAULT_MAX_CHARS = 1000
#: The most choices a multi-select field takes.
MAX_CHOICES = 32


@dataclass(frozen=True)
class FieldSpec:
    name: str
    property: str
    transform: str
    label: str
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    multiple: bool = False

    @property
    def max_chars(self) -> int:
        """The longest value (each choice, for a multi-select) the field takes."""
        return self.max_length or DEFAULT_MAX_CHARS

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class DealSpec:
    name: str
    pipeline: str
    stage: str


@dataclass(frozen=True)
class FormSpec:
    form_type: str
    title: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    static_values: Mapping[str, str]
    deal: DealSpec

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass
class CleanResult:
    values: Cleaned = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class PropertyMap:
    """The parsed mapping file; one instance serves the whole process."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.fields = {
            name: FieldSpec(
                name=name,
                property=spec["property"],
                transform=spec["transform"],
                label=spec.get("label", name),
                aliases=tuple(spec.get("aliases", ())),
                max_length=spec.get("max_length"),
                multiple=spec.get("multiple", False),
            )
            for name, spec in config["fields"].items()
        }
        self.picklists: dict[str, dict[str, str]] = config["picklists"]
        self.forms = {
            name: FormSpec(
                form_type=name,
                title=spec["title"],
                required=tuple(spec["required"]),
                optional=tuple(spec["optional"]),
                static_values=spec["static_values"],
                deal=DealSpec(**spec["deal"]),
            )
            for name, spec in config["forms"].items()
        }
        self.deal_idempotency_property: str = config["deal_idempotency_property"]
        self.lifecycle_stages: list[str] = config["lifecycle_stages"]
        self.write_policies: dict[str, str] = {
            name: policy
            for name, policy in config.get("write_policies", {}).items()
            if not name.startswith("$")
        }
        self.custom_properties: dict[str, list[dict[str, Any]]] = config["custom_properties"]
        self._cleaners: dict[str, Cleaner] = BUILTIN_CLEANERS | {
            name: picklist_cleaner(options) for name, options in self.picklists.items()
        }

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> PropertyMap:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def form(self, form_type: str) -> FormSpec:
        try:
            return self.forms[form_type]
        except KeyError:
            raise ValueError(f"unknown form type {form_type!r}") from None

    def split_known(
        self, form_type: str, raw: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """The members of `raw` that spell a field of the form, and the names of the rest."""
        known = {
            spelling
            for name in self.form(form_type).fields
            for spelling in self.fields[name].spellings
        }
        kept = {key: value for key, value in raw.items() if key in known}
        return kept, sorted(key for key in raw if key not in known)

    def bounded(self, form_type: str, values: Mapping[str, Any]) -> Cleaned:
        """The form's fields among `values`, each cut to what the field takes: for keeping
        input not yet valid (a draft) without keeping anything unbounded."""
        kept: Cleaned = {}
        for name in self.form(form_type).fields:
            value, limit = values.get(name), self.fields[name].max_chars
            if isinstance(value, str):
                kept[name] = value[:limit]
            elif isinstance(value, list):
                items = [item[:limit] for item in value if isinstance(item, str)]
                kept[name] = items[:MAX_CHOICES]
        return kept

    def clean(self, form_type: str, raw: Mapping[str, Any]) -> CleanResult:
        """Validate and normalise every field the form knows; unknown keys are ignored."""
        spec = self.form(form_type)
        context = {key: value for key, value in raw.items() if isinstance(value, str)}
        result = CleanResult()
        for name in spec.fields:
            field_spec = self.fields[name]
            value = _posted(raw, field_spec)
            if _too_long(raw, field_spec):
                # Checked before all else: blank text and an unticked box's text are stored
                # as posted too.
                limit = field_spec.max_chars
                result.errors[name] = f"{field_spec.label} must be at most {limit} characters."
            elif _is_blank(value) or (
                field_spec.transform in BOOLEAN_TRANSFORMS and not _is_yes(value)
            ):
                if name in spec.required:
                    result.errors[name] = f"{field_spec.label} is required."
            else:
                try:
                    result.values[name] = self._clean_value(field_spec, value, context)
                except InvalidValue as exc:
                    result.errors[name] = str(exc)
        return result

    def clean_field(self, form_type: str, name: str, raw: Mapping[str, Any]) -> str | None:
        """The error message for one field, for inline validation; None when it is fine."""
        return self.clean(form_type, raw).errors.get(name)

    def _clean_value(
        self, spec: FieldSpec, value: Any, context: Mapping[str, str]
    ) -> str | list[str]:
        cleaner = self._cleaners[spec.transform]
        if spec.multiple:
            items = value if isinstance(value, list) else str(value).split(",")
            if not all(isinstance(item, str) for item in items):
                raise InvalidValue("Choose one or more of the listed options.")
            if len(items) > MAX_CHOICES or any(len(item) > spec.max_chars for item in items):
                raise InvalidValue(f"Choose at most {MAX_CHOICES} of the listed options.")
            cleaned = [cleaner(item, context) for item in items if item.strip()]
            return list(dict.fromkeys(cleaned))
        if isinstance(value, bool) and spec.transform in BOOLEAN_TRANSFORMS:
            value = str(value).lower()
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise InvalidValue(f"{spec.label} must be text.")
        cleaned_text = cleaner(str(value), context)
        if not cleaned_text:
            raise InvalidValue(f"{spec.label} must contain text, not only markup or symbols.")
        return cleaned_text

    def guarded_properties(self, properties: Mapping[str, str]) -> list[str]:
        """The properties whose current HubSpot value decides whether ours is written."""
        guarded = [
            name for name in properties if self.write_policies.get(name, "overwrite") != "overwrite"
        ]
        return guarded + (["lifecyclestage"] if "lifecyclestage" in properties else [])

    def changes_for_existing(
        self, properties: Mapping[str, str], existing: Mapping[str, str | None]
    ) -> dict[str, str]:
        """What to write to a contact that exists: the write policies, and a lifecycle stage
        that only moves forward."""
        changes = {}
        for name, value in properties.items():
            policy = self.write_policies.get(name, "overwrite")
            if policy == "never" or (policy == "if_empty" and existing.get(name)):
                continue
            changes[name] = value
        if not self._moves_forward(changes.get("lifecyclestage"), existing.get("lifecyclestage")):
            changes.pop("lifecyclestage", None)
        return changes

    def changes_in_order(
        self,
        existing: Mapping[str, str | None] | None,
        submissions: Sequence[Mapping[str, str]],
    ) -> dict[str, str]:
        """What to write for an e-mail's submissions, oldest first, as if each were written
        in turn: the first creates the contact when `existing` is None (HubSpot holds none),
        each later one meets the values the earlier ones left."""
        state = None if existing is None else dict(existing)
        changes: dict[str, str] = {}
        for properties in submissions:
            step = (
                dict(properties) if state is None else self.changes_for_existing(properties, state)
            )
            state = {**(state or {}), **step}
            changes |= step
        return changes

    def _moves_forward(self, wanted: str | None, current: str | None) -> bool:
        stages = self.lifecycle_stages
        if not wanted or not current:
            return True
        if current not in stages:  # "other" or a portal's own stage: leave it alone
            return False
        return wanted in stages and stages.index(wanted) > stages.index(current)

    def display_value(self, name: str, value: str | list[str]) -> str:
        """A cleaned value as a person reads it: picklist labels, not internal values."""
        options = self.picklists.get(self.fields[name].transform, {})
        items = value if isinstance(value, list) else [value]
        return ", ".join(options.get(item, item) for item in items)

    def contact_properties(self, form_type: str, values: Cleaned) -> dict[str, str]:
        """HubSpot contact properties for a cleaned form, static values included."""
        spec = self.form(form_type)
        properties = {
            self.fields[name].property: _wire_value(value) for name, value in values.items()
        }
        return properties | dict(spec.static_values)

    def deal_properties(
        self, form_type: str, values: Cleaned, submission_id: str, owner_id: str | None = None
    ) -> dict[str, str]:
        """Deal properties, carrying the submission id HubSpot keeps unique per deal."""
        spec = self.form(form_type).deal
        company = values.get("company") or values.get("email") or "Website visitor"
        properties = {
            "dealname": spec.name.format(company=company),
            "pipeline": spec.pipeline,
            "dealstage": spec.stage,
            "form_type": form_type,
            self.deal_idempotency_property: submission_id,
        }
        if owner_id:
            properties["hubspot_owner_id"] = owner_id
        return properties


def _too_long(raw: Mapping[str, Any], spec: FieldSpec) -> bool:
    return any(
        isinstance(value := raw.get(key), str) and len(value) > spec.max_chars
        for key in spec.spellings
    )


def _posted(raw: Mapping[str, Any], spec: FieldSpec) -> Any:
    for key in spec.spellings:
        if key in raw and not _is_blank(raw[key]):
            return raw[key]
    return None


def _is_yes(value: Any) -> bool:
    """An unticked consent box is no statement at all: it must not withdraw an earlier yes."""
    return str(value).strip().lower() in YES


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return all(isinstance(item, str) and not item.strip() for item in value)
    return False


def _wire_value(value: str | list[str]) -> str:
    return MULTI_VALUE_SEPARATOR.join(value) if isinstance(value, list) else value
