"""`just run`: the whole product in one process, with nothing but Python installed.

Without a HubSpot token it starts the HubSpot sandbox on SANDBOX_PORT and points the
product at it, sets the sandbox up like a real portal, then serves the site; without
REDIS_URL the broker and worker run inside this process.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from settings import Settings


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
    uvicorn.run(create_app(), **server_options(settings))


def server_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn's options for the site.

    Uvicorn believes X-Forwarded-For and X-Forwarded-Proto from loopback unless told
    otherwise, which would let any local caller (or a forged header through a
    pass-through) pick its own address and dodge the per-address limits. Only the
    TRUSTED_PROXIES may rewrite the client and the scheme; an empty value trusts none.
    Passed as the networks `web.client_ip` reads, since uvicorn would take a network
    written with host bits (10.0.0.1/8) for a name and trust nothing by it.
    """
    from web.client_ip import trusted_networks

    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "proxy_headers": True,
        "forwarded_allow_ips": ",".join(map(str, trusted_networks(settings.trusted_proxies))),
    }


def _start_sandbox(host: str, port: int) -> None:
    from crm.sandbox import SandboxServer

    server = SandboxServer(host=host, port=port)
    server.start()
    os.environ["HUBSPOT_API_URL"] = server.url
    print(f"HubSpot sandbox: {server.url}/ (what it holds)", flush=True)


if __name__ == "__main__":
    main()
