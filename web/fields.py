"""One form field as the visitor sees it: widget, label, hint, options and message.

`build_field` turns a field of `hubspot_properties.json` into a `FieldView` for the
`_field.html` partial, which renders it in a whole step and alone as an inline check's answer.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

import pycountry
from starlette.datastructures import FormData
from starlette.requests import Request

from actors.services import property_map
from crm.mapping import FormSpec
from crm.transforms import BOOLEAN_TRANSFORMS
from settings import get_settings

Value = str | list[str]

#: Fields an inline check shows back normalised, because the normal form helps the visitor.
SHOWN_NORMALISED = frozenset({"phone"})
TEXTAREAS = frozenset({"projectDetails"})
#: `<input type>` by the field's transform; anything else is a text input.
INPUT_TYPES = {"email": "email", "phone": "tel", "future_date": "date", "time": "time"}
AUTOCOMPLETE = {
    "firstName": "given-name",
    "lastName": "family-name",
    "email": "email",
    "company": "organization",
    "jobTitle": "organization-title",
    "phone": "tel",
    "country": "country",
}
HINTS = {
    # The phone is asked before the country, so a national number has nothing to go by.
    "phone": "Include the country code, like +44 20 7946 0958.",
    "serviceInterests": "Choose all that apply.",
}
#: What ticking a yes/no box means, in full: the label is the statement agreed to.
CHECKBOX_LABELS = {
    "marketingConsent": (
        "I agree to receive marketing e-mails. "
        "See our privacy policy (version {privacy_policy_version})."
    ),
}
#: What a ticked yes/no box posts.
CHECKED = "true"
#: Time zone areas worth offering; the rest of the IANA list is aliases and POSIX oddities.
TIME_ZONE_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@dataclass(frozen=True)
class FieldView:
    """One field as the `_field.html` partial renders it."""

    name: str
    label: str
    widget: str  # "input", "textarea", "select", "checkboxes" or "checkbox" (one yes/no box)
    required: bool
    value: Value
    error: str | None
    validate_url: str
    input_type: str = "text"
    autocomplete: str | None = None
    max_length: int | None = None
    min_value: str | None = None
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    @property
    def input_id(self) -> str:
        """The id a label or error-summary link points at (the first box of a group)."""
        if self.widget == "checkboxes" and self.options:
            return self.option_id(self.options[0][0])
        return self.name

    @property
    def error_id(self) -> str:
        return f"{self.name}-error"

    @property
    def hint_id(self) -> str:
        return f"{self.name}-hint"

    @property
    def described_by(self) -> str:
        ids = [self.hint_id] if self.hint else []
        if self.error:
            ids.append(self.error_id)
        return " ".join(ids)

    @property
    def checked(self) -> bool:
        """A yes/no box is ticked."""
        return isinstance(self.value, str) and self.value.strip().lower() in {CHECKED, "on"}

    def option_id(self, option: str) -> str:
        return f"{self.name}-{option}"

    def is_selected(self, option: str) -> bool:
        return option in self.value if isinstance(self.value, list) else option == self.value


def build_field(
    request: Request, spec: FormSpec, name: str, value: Value, error: str | None
) -> FieldView:
    field_spec = property_map().fields[name]
    options: tuple[tuple[str, str], ...] = ()
    widget = "input"
    label = field_spec.label
    if field_spec.transform in property_map().picklists:
        options = tuple(property_map().picklists[field_spec.transform].items())
        widget = "checkboxes" if field_spec.multiple else "select"
    elif field_spec.transform == "country":
        options, widget = country_options(), "select"
    elif field_spec.transform == "time_zone":
        options, widget = time_zone_options(), "select"
    elif field_spec.transform in BOOLEAN_TRANSFORMS:
        widget = "checkbox"
        version = get_settings().privacy_policy_version
        label = CHECKBOX_LABELS.get(name, label).format(privacy_policy_version=version)
    elif name in TEXTAREAS:
        widget = "textarea"
    if field_spec.multiple and not isinstance(value, list):
        value = [value] if value else []
    return FieldView(
        name=name,
        label=label,
        widget=widget,
        required=name in spec.required,
        value=value,
        error=error,
        validate_url=request.url_for(f"{spec.form_type}_validate", field=name).path,
        input_type=INPUT_TYPES.get(field_spec.transform, "text"),
        autocomplete=AUTOCOMPLETE.get(name),
        max_length=field_spec.max_length,
        min_value=earliest_date() if field_spec.transform == "future_date" else None,
        hint=HINTS.get(name),
        options=options,
    )


def posted_values(form: FormData, names: Iterable[str]) -> dict[str, Value]:
    """The named fields as posted; an absent one is blank (an unticked box posts nothing)."""
    values: dict[str, Value] = {}
    for name in names:
        if property_map().fields[name].multiple:
            values[name] = [value for value in form.getlist(name) if isinstance(value, str)]
        else:
            value = form.get(name)
            values[name] = value if isinstance(value, str) else ""
    return values


def present_values(form: FormData, names: Iterable[str]) -> dict[str, Value]:
    """Only the named fields the post carries: files and blanks of absent fields left out."""
    return {
        name: value for name, value in posted_values(form, names).items() if name in form or value
    }


@functools.cache
def country_options() -> tuple[tuple[str, str], ...]:
    """(alpha-2, name) sorted by name; the short common name where ISO's is formal."""
    names = {
        country.alpha_2: getattr(country, "common_name", country.name)
        for country in pycountry.countries
    }
    return tuple(sorted(names.items(), key=lambda item: _sort_key(item[1])))


@functools.cache
def time_zone_options() -> tuple[tuple[str, str], ...]:
    zones = sorted(
        zone for zone in zoneinfo.available_timezones() if zone.startswith(TIME_ZONE_AREAS)
    )
    return (("UTC", "UTC"), *((zone, zone.replace("_", " ")) for zone in zones))


def earliest_date() -> str:
    """The `min` of the date picker: the server accepts yesterday (UTC) for time-zone slack."""
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def _sort_key(name: str) -> str:
    """Åland sorts with A, not after Z."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
