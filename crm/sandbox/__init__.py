"""An in-memory stand-in for HubSpot's CRM REST API (v3 objects/properties/pipelines/
owners, v4 associations, timeline v3), for running the product without a HubSpot
account and for tests that drive the real SDK over HTTP.

``create_sandbox_app(...)`` builds the ASGI app; ``SandboxServer`` serves it on a
real socket in a background thread; ``python -m crm.sandbox`` serves it on a port.
``app.state.faults`` (a ``FaultPlan``, also at ``/_sandbox/faults``) injects 5xx,
timeouts, lost answers, outages, 401s and 429 storms for resilience tests.
"""

from __future__ import annotations

from .app import create_sandbox_app
from .faultoptions import FaultOptions
from .faults import Fault, FaultPlan
from .server import SandboxServer
from .state import SandboxState

__all__ = [
    "Fault",
    "FaultOptions",
    "FaultPlan",
    "SandboxServer",
    "SandboxState",
    "create_sandbox_app",
]
