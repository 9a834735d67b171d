"""``python -m crm.sandbox``: serve the HubSpot sandbox on a port for local use."""

from __future__ import annotations

import argparse
import os

from .app import create_sandbox_app
from .server import bind, url_for, uvicorn_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m crm.sandbox", description="In-memory stand-in for HubSpot's CRM API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument(
        "--token",
        default=os.environ.get("HUBSPOT_API_KEY")
        or os.environ.get("HUBSPOT_ACCESS_TOKEN")
        or "sandbox-token",
        help="Bearer token to accept (default: $HUBSPOT_API_KEY, $HUBSPOT_ACCESS_TOKEN "
        "or sandbox-token)",
    )
    parser.add_argument("--search-lag", type=float, default=2.0, help="seconds, default 2")
    parser.add_argument(
        "--burst-limit", type=int, default=100, help="requests per burst window, default 100"
    )
    parser.add_argument(
        "--burst-window", type=float, default=10.0, help="burst window in seconds, default 10"
    )
    parser.add_argument("--daily-limit", type=int, default=250_000, help="default 250000")
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    app = create_sandbox_app(
        access_token=args.token,
        search_lag_s=args.search_lag,
        burst_limit=args.burst_limit,
        burst_window_s=args.burst_window,
        daily_limit=args.daily_limit,
    )
    print(f"HubSpot sandbox listening on {url_for(args.host, sock.getsockname()[1])}", flush=True)
    uvicorn_server(app).run(sockets=[sock])


if __name__ == "__main__":
    main()
