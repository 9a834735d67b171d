"""Only the configured Host names are served (ALLOWED_HOSTS), except to the health probes.

Starlette's `TrustedHostMiddleware` answers any other name with a 400. Load balancers and
orchestrators probe `/healthz` and `/readyz` by IP address, and those answers carry no
link, so the probes are let through whatever the Host header says.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

#: Paths answered whatever the Host header: what a load balancer asks by IP.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        # No www redirect: it would send visitors to a name built from their Host header.
        self.guarded = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        await self.guarded(scope, receive, send)
