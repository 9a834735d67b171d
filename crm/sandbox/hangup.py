"""Closing a request's connection without any answer: HubSpot did the write but the
answer was lost on the way, so the client sees the connection drop.

ASGI cannot express this: uvicorn answers 500 to an app that fails before starting
its response, and closes the socket only after a response has started (the client
would then see a status line). So the server registers its live connections on the
app (``register``) and ``hang_up`` closes the socket of the request itself; the
client's HTTP library then reports the remote end closed without a response.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import Scope

#: Event-loop turns to wait for uvicorn to notice the closed socket.
_SETTLE_TURNS = 10


def register(app: Starlette, server: uvicorn.Server) -> None:
    """Let ``hang_up`` find the connections of ``server`` (call before it serves)."""
    app.state.connections = server.server_state.connections


async def hang_up(scope: Scope) -> bool:
    """Close the connection ``scope`` arrived on; False if the server gives no way to
    (not uvicorn, or not registered), so the caller can answer something else."""
    connections: set[Any] = getattr(scope["app"].state, "connections", None) or set()
    for protocol in list(connections):
        cycle = getattr(protocol, "cycle", None)
        if getattr(cycle, "scope", None) is scope:
            protocol.transport.close()
            # uvicorn answers 500 to an app that returns without a response unless it has
            # seen the disconnect first; the close reports it within a turn or two.
            for _ in range(_SETTLE_TURNS):
                if cycle.disconnected:
                    break
                await asyncio.sleep(0)
            return True
    return False
