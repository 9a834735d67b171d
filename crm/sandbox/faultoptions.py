"""The knobs of the configurable fault plan, validated once so a typo in a test or in a
``POST /_sandbox/faults`` body fails loudly instead of silently injecting nothing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

DEFAULT_ERROR_STATUSES = (500, 502, 503, 504)
#: Options that open a window "from now, for that many seconds" on the sandbox clock.
WINDOWS = ("outage_s", "auth_failure_s", "rate_limit_storm_s")


@dataclass(frozen=True)
class FaultOptions:
    """What the plan injects; the defaults inject nothing."""

    #: Share of API requests answered ``error_statuses`` (picked uniformly) before anything.
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = DEFAULT_ERROR_STATUSES
    #: Share of API requests held ``timeout_s`` (past the client's read timeout), then done.
    timeout_rate: float = 0.0
    timeout_s: float = 5.0
    #: Share of writes done and then answered by closing the connection without a response.
    lost_answer_rate: float = 0.0
    #: Every API request answers ``outage_status`` for this long from configuration.
    outage_s: float = 0.0
    outage_status: int = 503
    #: Every API request answers 401 INVALID_AUTHENTICATION for this long.
    auth_failure_s: float = 0.0
    #: Every API request answers 429 TEN_SECONDLY_ROLLING for this long.
    rate_limit_storm_s: float = 0.0
    #: Extra latency on every API request (a slow HubSpot).
    delay_s: float = 0.0
    #: Seed of the ``random.Random`` deciding the rates, so runs are reproducible.
    seed: int = 0

    def updated(self, **changes: Any) -> FaultOptions:
        """A copy with ``changes`` applied; ``ValueError`` names any bad option."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown fault option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **{k: _check(k, v) for k, v in changes.items()})

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _status(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise ValueError(f"{name} must be an HTTP error status (400-599), got {value!r}")
    return value


def _check(name: str, value: Any) -> Any:
    if name == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"seed must be an integer, got {value!r}")
        return value
    if name == "outage_status":
        return _status(name, value)
    if name == "error_statuses":
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("error_statuses must be a non-empty list of HTTP error statuses")
        return tuple(_status(name, status) for status in value)
    number = _number(name, value)
    if name.endswith("_rate") and not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number
