"""Timestamps as HubSpot writes and reads them.

HubSpot answers with ISO 8601 UTC instants carrying milliseconds and a ``Z``
(``2024-05-01T12:00:00.123Z``) and accepts either ISO 8601 or epoch milliseconds
for date and datetime property values. Keeping the conversions here means every
module formats time the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_EPOCH_MS = re.compile(r"^-?\d{1,15}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MS_PER_DAY = 86_400_000


def iso(ts: float) -> str:
    """Format a POSIX timestamp (seconds) the way HubSpot does: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(round(ts * 1000) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_from_ms(ms: int) -> str:
    return iso(ms / 1000)


def parse_instant_ms(value: str) -> int | None:
    """Epoch milliseconds for an ISO 8601 instant, a bare date, or epoch ms; None if neither."""
    text = value.strip()
    if not text:
        return None
    if _EPOCH_MS.match(text):
        return int(text)
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def date_from_ms(ms: int) -> str:
    """``YYYY-MM-DD`` for a UTC midnight given in epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def time_of_day(ms: int) -> str:
    """The UTC wall-clock part of an instant, as HubSpot quotes it in INVALID_DATE messages."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%H:%M:%S") + f".{moment.microsecond // 100000}"
