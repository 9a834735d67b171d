"""Run database coroutines from worker threads on one event loop that owns the pool.

Piccolo is async and a PostgreSQL pool belongs to one event loop. Dramatiq runs actors on
plain threads; `asyncio.run` per query would open a connection per query. Instead every
thread hands its coroutines to one loop: the web server's own (embedded mode, attached by
the lifespan) or a private thread's (a worker process).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from storage.database import start_pool

T = TypeVar("T")


class DatabaseRunner:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use `loop` (already running, pool started by its owner) for every query."""
        self._loop = loop

    def detach(self) -> None:
        self._loop = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the database loop and wait for its result (from a sync thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="database", daemon=True).start()
                asyncio.run_coroutine_threadsafe(start_pool(), loop).result()
                self._loop = loop
            return self._loop


database = DatabaseRunner()
