"""Uploads that take the analysis threads for minutes never hold up lead sync: analysis has
worker threads of its own in `dramatiq` worker processes and in the embedded worker, and
analyses past those threads wait their turn instead of taking the threads leads need."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from actors.analysis_workers import ANALYSIS_QUEUE
from actors.broker import broker, stop_worker
from actors.uploads import upload_housekeeping
from settings import get_settings
from storage import uploads
from storage.submissions import get_submission
from tests.abuse.blocked_analysis import BlockedAnalysis
from tests.integration.processes import free_port, stack
from tests.storage.stored_uploads import age_upload, stored_upload
from tests.web.leads import eventually, submit, wait_for_status
from tests.web.uploading import complete
from web.app import create_app

#: Seconds a lead may take to reach HubSpot while every analysis thread is held.
LEAD_DEADLINE_S = 5
#: Seconds the released analyses get to finish.
ANALYSIS_DEADLINE_S = 30
#: A small CSV: its analysis is quick once let go.
SAMPLE = b"id,name\n1,Ann\n2,Bo\n3,Cy\n"


@pytest.fixture
def blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockedAnalysis]:
    """Analyses in this process hold their thread until released (at the latest, at the end)."""
    analyses = BlockedAnalysis(tmp_path / "analyses")
    analyses.install(monkeypatch)
    yield analyses
    analyses.release()


def _upload(client: Any) -> str:
    """A sample file uploaded through the JSON API as the upload page does; its status URL."""
    body = {
        "email": f"visitor-{uuid.uuid4().hex[:8]}@example.com",
        "filename": "sample.csv",
        "contentType": "text/csv",
        "size": len(SAMPLE),
    }
    created = client.post("/api/uploads", json=body)
    assert created.status_code == 201, created.text
    target = created.json()["data"]
    files = {"file": ("sample.csv", SAMPLE, "text/csv")}
    assert client.post(target["url"], data=target["fields"], files=files).status_code == 204
    completed = complete(client, target)
    assert completed.status_code == 202, completed.text
    return target["status_url"]


def _statuses(client: Any, status_urls: list[str]) -> list[str]:
    return [client.get(url).json()["data"]["status"] for url in status_urls]


def _lead_syncs_while_analyses_are_held(
    client: Any, analyses: BlockedAnalysis, analysis_threads: int
) -> None:
    # Given more uploads than analysis threads, every one of those threads held
    status_urls = [_upload(client) for _ in range(analysis_threads + 2)]
    eventually(lambda: analyses.started() >= analysis_threads, "the analysis threads to fill")

    # When a visitor posts a lead
    submission_id = submit(client, email=f"lead-{uuid.uuid4().hex[:8]}@example.com")

    # Then it reaches HubSpot at once, and the uploads past the analysis threads still wait
    wait_for_status(submission_id, "synced", timeout_s=LEAD_DEADLINE_S)
    assert analyses.started() == analysis_threads
    assert _statuses(client, status_urls).count("completed") == 0

    # And once let go, every upload is analysed
    analyses.release()
    eventually(
        lambda: set(_statuses(client, status_urls)) == {"completed"},
        "every upload to be analysed",
        ANALYSIS_DEADLINE_S,
    )
    assert analyses.started() == len(status_urls)


def test_the_embedded_worker_syncs_a_lead_while_every_analysis_thread_is_held(
    client, blocked: BlockedAnalysis
) -> None:
    _lead_syncs_while_analyses_are_held(client, blocked, get_settings().analysis_worker_threads)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_dramatiq_worker_process_syncs_a_lead_while_every_analysis_thread_is_held(
    postgres, real_redis_url, tmp_path
) -> None:
    sandbox_port, web_port = free_port(), free_port()
    analyses = BlockedAnalysis(tmp_path / "analyses")
    env = os.environ | {
        "DATABASE_URL": postgres,
        "REDIS_URL": real_redis_url,
        "HUBSPOT_API_KEY": "pat-test-token",
        "HUBSPOT_API_URL": f"http://127.0.0.1:{sandbox_port}",
        "SECRET_KEY": "a-secret-key-for-this-test-only",
        "ANALYSIS_WORKER_THREADS": "1",
        "BLOCKED_ANALYSIS_DIR": str(analyses.folder),
    }
    with stack(env, tmp_path) as running:
        running.sandbox(sandbox_port, "--token", "pat-test-token")
        running.run(sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all")
        running.run(sys.executable, "-m", "actors.portal_setup")
        running.web(web_port)
        # As `just worker` runs it: no --queues, two threads, so held analyses could take all.
        running.worker("worker", 2, "tests.abuse.blocked_analysis")
        with httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=10) as client:
            _lead_syncs_while_analyses_are_held(client, analyses, analysis_threads=1)


def test_an_upload_whose_message_was_lost_is_analysed_once_the_sweeper_queues_it(client) -> None:
    # Given an upload stored long ago whose analysis message never reached the broker
    upload_id = stored_upload(SAMPLE)
    age_upload(upload_id)

    # When the periodic job runs, as the embedded worker's scheduler runs it
    upload_housekeeping()

    # Then the analysis threads analyse it
    eventually(
        lambda: asyncio.run(uploads.get_upload(upload_id)).status == "completed",
        "the swept upload to be analysed",
        ANALYSIS_DEADLINE_S,
    )


def test_a_worker_told_its_queues_keeps_to_them(db, sandbox) -> None:
    # Given no worker but one told to analyse, as `just worker --queues uploads` runs one
    client = TestClient(create_app(), base_url="http://127.0.0.1:8000")  # no lifespan
    worker = dramatiq.Worker(broker, queues={ANALYSIS_QUEUE}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        # When a visitor uploads a file and another posts a lead
        status_urls = [_upload(client)]
        submission_id = submit(client, email=f"lead-{uuid.uuid4().hex[:8]}@example.com")

        # Then the file is analysed, and the lead waits for a worker that syncs
        eventually(
            lambda: _statuses(client, status_urls) == ["completed"],
            "the upload to be analysed",
            ANALYSIS_DEADLINE_S,
        )
        assert asyncio.run(get_submission(submission_id)).status == "pending"
    finally:
        stop_worker(worker, timeout_ms=10_000)
