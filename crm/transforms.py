"""Value cleaners named by `hubspot_properties.json`: each validates and normalises one value.

A cleaner takes the posted text and returns what HubSpot should store, or raises
`InvalidValue` with a sentence the visitor can act on.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Mapping

import phonenumbers
import pycountry


class InvalidValue(ValueError):
    """A posted value that cannot be stored; the message is shown to the visitor."""


Cleaner = Callable[[str, Mapping[str, str]], str]

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: Leading characters that make a spreadsheet treat a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain_text(value: str) -> str:
    """Text without markup, control characters or a formula-triggering first character."""
    value = unicodedata.normalize("NFC", value)
    value = _TAG.sub("", _SCRIPT.sub("", value))
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    value = value.strip()
    while value.startswith(_FORMULA_START):
        value = value[1:].lstrip()
    return value


def clean_text(value: str, context: Mapping[str, str]) -> str:
    return plain_text(value)


def clean_name(value: str, context: Mapping[str, str]) -> str:
    """Capitalise the first letter of each word part; keep the rest as typed (McDonald)."""
    words = " ".join(plain_text(value).split())
    return re.sub(r"(^|[\s\-'])(\w)", lambda m: m.group(1) + m.group(2).upper(), words)


def clean_email(value: str, context: Mapping[str, str]) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email) or ".." in email:
        raise InvalidValue("Enter a valid e-mail address, like name@company.com.")
    return email


def clean_country(value: str, context: Mapping[str, str]) -> str:
    """ISO 3166 alpha-2 code from a code or a country name."""
    try:
        return pycountry.countries.lookup(value.strip()).alpha_2
    except LookupError:
        raise InvalidValue("Choose a country from the list.") from None


def clean_phone(value: str, context: Mapping[str, str]) -> str:
    """E.164, reading national numbers in the visitor's country when one was given."""
    try:
        region = clean_country(context.get("country", ""), context)
    except InvalidValue:
        region = None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidValue(
            "Enter a valid phone number with its country code, like +44 20 7946 0958."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_future_date(value: str, context: Mapping[str, str]) -> str:
    """An ISO date (YYYY-MM-DD) that is today or later; HubSpot stores dates that way."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValue("Enter a date as YYYY-MM-DD.") from None
    if day < dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1):
        raise InvalidValue("Choose a date in the future.")
    return day.isoformat()


def clean_time(value: str, context: Mapping[str, str]) -> str:
    if not _TIME.match(value.strip()):
        raise InvalidValue("Enter a time as HH:MM, like 14:30.")
    return value.strip()


def clean_time_zone(value: str, context: Mapping[str, str]) -> str:
    name = value.strip()
    if name not in zoneinfo.available_timezones():
        raise InvalidValue("Choose a time zone from the list, like Europe/London.")
    return name


def picklist_cleaner(options: Mapping[str, str]) -> Cleaner:
    """Accept an option's internal value or its label, in any case; store the value."""
    lookup = {key.lower(): key for key in options} | {
        label.lower(): key for key, label in options.items()
    }

    def clean(value: str, context: Mapping[str, str]) -> str:
        try:
            return lookup[value.strip().lower()]
        except KeyError:
            raise InvalidValue("Choose one of the listed options.") from None

    return clean


def clean_consent(value: str, context: Mapping[str, str]) -> str:
    """Only a yes reaches here (see `PropertyMap.clean`); HubSpot's bool is "true"."""
    return "true"


#: Transforms whose fields accept JSON booleans as well as text.
BOOLEAN_TRANSFORMS = frozenset({"consent"})

BUILTIN_CLEANERS: dict[str, Cleaner] = {
    "consent": clean_consent,
    "text": clean_text,
    "name": clean_name,
    "email": clean_email,
    "country": clean_country,
    "phone": clean_phone,
    "future_date": clean_future_date,
    "time": clean_time,
    "time_zone": clean_time_zone,
}
