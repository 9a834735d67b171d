"""Ways tests make HubSpot fail: one request answered badly, or the breaker opened."""

from __future__ import annotations

from collections.abc import Callable

from crm.sandbox.faults import Fault


def on_first(
    method: str, path_part: str, fault: Fault, times: int = 1
) -> Callable[[str, str], Fault | None]:
    """A `FaultPlan.fault_for` doing `fault` to the first `times` `method` requests whose
    path holds `path_part`, and nothing to any other request."""
    done: list[str] = []

    def fault_for(asked_method: str, path: str) -> Fault | None:
        if asked_method == method and path_part in path and len(done) < times:
            done.append(path)
            return fault
        return None

    return fault_for


def open_breaker() -> None:
    """Record failures until the shared breaker opens, as an outage would."""
    from actors.services import circuit_breaker

    while circuit_breaker().record_failure().state != "open":
        pass
