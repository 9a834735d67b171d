"""Runs a sandbox app with uvicorn on a real socket in a background thread.

Tests and the embedded product drive the sandbox over real HTTP (the official SDK
uses urllib3), so it needs a real listening socket. Binding the socket ourselves
makes port 0 (an ephemeral port) work and tells us the port before serving starts.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import create_sandbox_app
from .hangup import register
from .state import SandboxState

START_TIMEOUT_S = 10.0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive answer waits ~40 ms (delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(app: Starlette) -> uvicorn.Config:
    # No websockets, no lifespan: neither is used, and skipping them keeps start-up quick.
    return uvicorn.Config(app, log_level="warning", ws="none", lifespan="off", access_log=False)


def uvicorn_server(app: Starlette) -> uvicorn.Server:
    """A server for ``app`` that lets injected lost answers close their connections."""
    server = uvicorn.Server(uvicorn_config(app))
    register(app, server)
    return server


class SandboxServer:
    """``with SandboxServer() as server: hubspot.Client.create(host=server.url, ...)``."""

    def __init__(
        self,
        app: Starlette | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        **create_kwargs: Any,
    ) -> None:
        self.app = app if app is not None else create_sandbox_app(**create_kwargs)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return self.app.state.sandbox

    @property
    def url(self) -> str:
        """``http://host:port``; known once started (it stays valid after ``stop()``)."""
        if self.port == 0:
            raise RuntimeError("SandboxServer is not started")
        return url_for(self.host, self.port)

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns once the socket accepts connections."""
        if self._server is not None:
            return self
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = uvicorn_server(self.app)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="hubspot-sandbox", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError("HubSpot sandbox failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
