"""Production shape: PostgreSQL, Redis, a separate web process, a `dramatiq` worker process
and the sandbox on its own port — a form posted to the web ends up in HubSpot."""

from __future__ import annotations

import os
import sys

import httpx2 as httpx
import pytest

from storage.tables import Submission
from tests.integration.processes import free_port, stack, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FORM = {
    "firstName": "Priya",
    "lastName": "Shah",
    "email": "priya@example.com",
    "company": "Globex",
    "country": "IN",
    "phone": "+91 98765 43210",
    "serviceInterests": ["Data Annotation"],
}


def test_a_form_reaches_hubspot_through_separate_processes(postgres, real_redis_url, tmp_path):
    sandbox_port, web_port = free_port(), free_port()
    env = os.environ | {
        "DATABASE_URL": postgres,
        "REDIS_URL": real_redis_url,
        "HUBSPOT_API_KEY": "pat-test-token",
        "HUBSPOT_API_URL": f"http://127.0.0.1:{sandbox_port}",
        "SECRET_KEY": "a-secret-key-for-this-test-only",
        "SWEEP_INTERVAL": "1",
        "SWEEP_GRACE": "3",
    }
    with stack(env, tmp_path) as running:
        running.sandbox(sandbox_port, "--token", "pat-test-token")
        running.run(sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all")
        running.run(sys.executable, "-m", "actors.portal_setup")
        running.web(web_port)
        running.worker()

        answers = [
            httpx.post(f"http://127.0.0.1:{web_port}/api/contact", json=FORM, timeout=10)
            for _ in range(2)
        ]

        assert [a.status_code for a in answers] == [202, 202]
        wait_until(
            lambda: Submission.count().where(Submission.status == "synced").run_sync() == 2,
            30,
            "both submissions synced",
        )
        state = httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/state").json()
        assert state["counts"] == {"contacts": 1, "deals": 2, "notes": 2}
        assert state["contacts"][0]["properties"]["phone"] == "+919876543210"
