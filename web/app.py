"""The Starlette application: routes, middleware, and (embedded) the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from dramatiq import Worker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from actors.broker import stop_worker
from actors.worker import broker
from settings import get_settings
from storage.database import close_pool, migrate, start_pool
from storage.runner import database
from web import access_log, admin, api, forms, health, metrics, openapi, uploads
from web.admin.auth import COOKIE_NAME as ADMIN_SESSION_COOKIE
from web.admin.auth import LOGIN_PATH as ADMIN_LOGIN_PATH
from web.admin.auth import PREFIX as ADMIN_PREFIX
from web.admin.auth import AdminGuard
from web.body_limit import BodyLimitMiddleware
from web.csrf import CSRFMiddleware
from web.hosts import AllowedHostsMiddleware
from web.protection import recaptcha_site_key
from web.public_url import warn_if_unset
from web.responses import envelope
from web.security_headers import SecurityHeadersMiddleware, upload_origins
from web.storable_input import StorableInputMiddleware
from web.templating import STATIC_DIR

log = logging.getLogger(__name__)

#: Worker threads of the embedded worker: enough to overlap HubSpot's latency. Analysis
#: runs beside it on threads of its own (`actors.analysis_workers`), never on these.
EMBEDDED_WORKER_THREADS = 4
#: Milliseconds the embedded worker gets to finish its jobs when the app stops.
EMBEDDED_STOP_TIMEOUT_MS = 10_000


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
            await asyncio.to_thread(stop_worker, worker, EMBEDDED_STOP_TIMEOUT_MS)
        database.detach()
        await close_pool()


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return envelope(exc.status_code, str(exc.detail), headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code)


class _App(Starlette):
    """Starlette with one middleware outside its own error handling, so that an unhandled
    error's 500 passes through it too (the security headers belong on every response)."""

    def __init__(self, outermost: Middleware, **kwargs: Any) -> None:
        self.outermost = outermost
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        cls, args, kwargs = self.outermost
        return cls(super().build_middleware_stack(), *args, **kwargs)


def create_app() -> Starlette:
    settings = get_settings()
    warn_if_unset(settings)
    access_log.install()
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
    security_headers = Middleware(
        SecurityHeadersMiddleware,
        frame_ancestors=settings.frame_ancestors,
        recaptcha=bool(recaptcha_site_key()),
        connect_sources=upload_origins(settings),
        unframed_prefixes=(ADMIN_PREFIX,),
    )
    return _App(
        security_headers,
        routes=routes,
        middleware=[
            Middleware(AllowedHostsMiddleware, allowed_hosts=settings.trusted_hosts),
            Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes),
            Middleware(StorableInputMiddleware),
            Middleware(
                CSRFMiddleware,
                secret_key=settings.secret_key,
                max_body_bytes=settings.max_body_bytes,
                session_cookie=ADMIN_SESSION_COOKIE,
                session_prefix=ADMIN_PREFIX,
                sign_in_path=ADMIN_LOGIN_PATH,
            ),
            Middleware(AdminGuard),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
