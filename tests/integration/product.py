"""The product as production runs it — web and `dramatiq` workers as separate processes on
PostgreSQL and a Redis of its own — against the HubSpot sandbox on a loopback port, for the
runs that judge it from outside: the chaos run and the drain benchmark."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.integration.processes import Process, Stack, free_port

TOKEN = "pat-integration-token"
#: Which form each submission of a mixed run uses (half contact, 30 % demo, 20 % quote).
FORM_MIX = ("contact",) * 5 + ("demo_request",) * 3 + ("quote_request",) * 2


def form(index: int, email: str) -> tuple[str, dict[str, Any]]:
    """A mixed run's submission `index` from `email`: its form type and fields."""
    form_type = FORM_MIX[index % len(FORM_MIX)]
    fields: dict[str, Any] = {
        "firstName": f"person{index}",
        "lastName": "Load",
        "email": email,
        "company": f"Company {index % 997}",
        "country": "GB",
        "serviceInterests": ["Data Preparation"],
        "projectDetails": f"submission {index}",
    }
    if form_type == "quote_request":
        fields |= {"budget": "10k_50k", "timeline": "1_3_months"}
    return form_type, fields


class Product:
    """Ports, environment and processes of one run; `start` inside a `stack`."""

    def __init__(self, database_url: str, settings: Mapping[str, str]) -> None:
        self.redis_port, self.sandbox_port, self.web_port = free_port(), free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = os.environ | {
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "HUBSPOT_API_KEY": TOKEN,
            "HUBSPOT_API_URL": self.sandbox_url,
            "SECRET_KEY": "integration-secret-key-not-for-production",
            "SUBMISSION_RATE_LIMIT": "0",
            **settings,
        }
        self.redis: Process | None = None
        self.workers: list[Process] = []

    def start(
        self, running: Stack, *, burst_limit: int, burst_window_s: float, workers: int = 2
    ) -> None:
        """Redis, the sandbox at HubSpot's limits, the schema, the portal, web, workers."""
        self.redis = running.redis(self.redis_port)
        limits = ("--burst-limit", str(burst_limit), "--burst-window", str(burst_window_s))
        running.sandbox(self.sandbox_port, "--token", TOKEN, *limits)
        running.run(sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all")
        running.run(sys.executable, "-m", "actors.portal_setup")
        running.web(self.web_port)
        self.workers = [running.worker(f"worker-{n}", threads=8) for n in range(workers)]

    def restart_redis(self, running: Stack) -> None:
        """Kill Redis and start it again empty: every queued message is gone with it."""
        assert self.redis is not None
        self.redis.kill()
        self.redis = running.redis(self.redis_port)

    def kill_worker(self, running: Stack, index: int = 0) -> None:
        """SIGKILL: no shutdown, no acks, leases and batch slots left behind."""
        self.workers[index].kill()
        self.workers[index] = running.worker(f"worker-{index}-again", threads=8)

    def faults(self, options: Mapping[str, Any]) -> None:
        response = httpx.post(f"{self.sandbox_url}/_sandbox/faults", json=dict(options), timeout=5)
        response.raise_for_status()

    def post(self, form_type: str, fields: Mapping[str, Any]) -> int:
        url = f"{self.web_url}/api/{form_type.replace('_', '-')}"
        return httpx.post(url, json=dict(fields), timeout=30).status_code

    def sandbox(self, what: str, **params: Any) -> Any:
        """`/_sandbox/<what>` as JSON: state, stats (`window_s`) or faults."""
        response = httpx.get(f"{self.sandbox_url}/_sandbox/{what}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()


def row_statuses() -> dict[str, int]:
    """Submissions per status, read in this process (tables bound to the run's database)."""
    from storage.metrics import count_by
    from storage.tables import Submission

    return asyncio.run(count_by(Submission.status))


def log_dir(prefix: str) -> Path:
    """A new folder for the run's process logs, kept for a failure's post-mortem."""
    return Path(tempfile.mkdtemp(prefix=prefix))
