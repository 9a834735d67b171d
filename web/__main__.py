"""`just run`: the whole product in one process, with nothing but Python installed.

Without a HubSpot token it starts the HubSpot sandbox on SANDBOX_PORT and points the
product at it, sets the sandbox up like a real portal, then serves the site; without
REDIS_URL the broker and worker run inside this process.
"""

from __future__ import annotations

import logging
import os

import uvicorn


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from settings import get_settings

    settings = get_settings()
    if settings.uses_sandbox and "HUBSPOT_API_URL" not in os.environ:
        _start_sandbox(settings.host, settings.sandbox_port)
        get_settings.cache_clear()
        settings = get_settings()

    from actors.portal_setup import main as set_up_portal

    if settings.embedded:
        from actors.services import rate_limiter

        rate_limiter().assume_idle()  # a fresh in-process Redis: no call was made before

    if set_up_portal() != 0:
        raise SystemExit(1)
    from web.app import create_app

    print(f"Site: http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(create_app(), host=settings.host, port=settings.port, log_level="info")


def _start_sandbox(host: str, port: int) -> None:
    from crm.sandbox import SandboxServer

    server = SandboxServer(host=host, port=port)
    server.start()
    os.environ["HUBSPOT_API_URL"] = server.url
    print(f"HubSpot sandbox: {server.url}/ (what it holds)", flush=True)


if __name__ == "__main__":
    main()
