"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: it can do its job).

A load balancer sends traffic only to a ready process: one that reaches the database, the
broker's Redis and the object store, each within a short timeout. The answer names each
check's result but never a host, URL or error text, which may hold credentials; those
are logged.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actors.broker import redis_client
from storage.objects import S3ObjectStore, object_store
from storage.tables import Submission

log = logging.getLogger(__name__)

#: Seconds each readiness check may take before it counts as failed.
CHECK_TIMEOUT_S = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    results = await asyncio.gather(*(_run(name, check) for name, check in CHECKS.items()))
    checks = dict(results)
    ready = all(result == "ok" for result in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> tuple[str, str]:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        log.error("readiness: the %s check took longer than %.0f s", name, CHECK_TIMEOUT_S)
        return name, "timed out"
    except Exception as exc:  # whatever fails, the process is not ready; the log says why
        log.error("readiness: the %s check failed: %r", name, exc)
        return name, f"failed ({type(exc).__name__})"
    return name, "ok"


async def _database() -> None:
    await Submission.raw("SELECT 1")


async def _broker() -> None:
    await asyncio.to_thread(redis_client().ping)


async def _storage() -> None:
    await asyncio.to_thread(_store_writable)


def _store_writable() -> None:
    """The bucket answers (S3), or a file can be made where uploads go (local)."""
    store = object_store()
    if isinstance(store, S3ObjectStore):
        store.client.head_bucket(Bucket=store.bucket)
        return
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=store.root):
        pass


#: What readiness needs, by the name the answer reports it under.
CHECKS: dict[str, Callable[[], Awaitable[None]]] = {
    "database": _database,
    "broker": _broker,
    "storage": _storage,
}

routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
