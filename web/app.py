"""The Starlette application: routes, middleware, and (embedded) the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from dramatiq import Worker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from actors.worker import broker
from settings import get_settings
from storage.database import close_pool, migrate, start_pool
from storage.runner import database
from web import admin, api, forms, health, metrics, openapi, uploads
from web.admin.auth import AdminGuard
from web.body_limit import BodyLimitMiddleware
from web.csrf import CSRFMiddleware
from web.responses import envelope
from web.storable_input import StorableInputMiddleware
from web.templating import STATIC_DIR

log = logging.getLogger(__name__)

#: Worker threads of the embedded worker: enough to overlap HubSpot's latency.
EMBEDDED_WORKER_THREADS = 4


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    settings = get_settings()
    worker = None
    await start_pool()
    # Worker threads of this process (the embedded worker) query on this very loop.
    database.attach(asyncio.get_running_loop())
    if settings.embedded:
        await migrate()
        worker = Worker(broker, worker_threads=EMBEDDED_WORKER_THREADS, worker_timeout=100)
        worker.start()
        log.info("embedded worker started with %d threads", EMBEDDED_WORKER_THREADS)
    try:
        yield
    finally:
        if worker is not None:
            # Off the loop: its threads may be waiting for queries this loop must run.
            await asyncio.to_thread(_stop, worker)
        database.detach()
        await close_pool()


def _stop(worker: Worker) -> None:
    """Stop the worker and unhook it: Dramatiq leaves its middleware on the shared broker."""
    worker.stop(timeout=10_000)
    broker.middleware[:] = [
        m for m in broker.middleware if getattr(m, "worker", None) is not worker
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return envelope(exc.status_code, str(exc.detail), headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code)


def create_app() -> Starlette:
    settings = get_settings()
    routes = [
        *health.routes,
        *metrics.routes,
        *api.routes,
        *openapi.routes,
        *forms.routes,
        *uploads.routes,
        *admin.routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes),
            Middleware(StorableInputMiddleware),
            Middleware(
                CSRFMiddleware,
                secret_key=settings.secret_key,
                max_body_bytes=settings.max_body_bytes,
            ),
            Middleware(AdminGuard),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
