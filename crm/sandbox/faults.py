"""The hook for making the sandbox misbehave on purpose (fault injection).

``app.state.faults`` holds a ``FaultPlan``; the request gate asks it about every
request before anything else happens. The base plan never interferes. A richer
plan (a share of 5xx, delays past the client's timeout, dropping the answer after
the write, a full outage, forced 401s) only has to override ``fault_for``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    #: Wait this long (real seconds, not the injected clock) before going on.
    delay_s: float = 0.0
    #: Answer with this status instead of handling the request (nothing is written).
    status: int | None = None
    #: Handle the request (the write happens), then answer this status instead.
    status_after_write: int | None = None


class FaultPlan:
    """Decides per request whether to misbehave; this base plan never does."""

    def fault_for(self, method: str, path: str) -> Fault | None:
        return None
