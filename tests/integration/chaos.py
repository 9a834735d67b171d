"""The chaos run: many submissions through the real processes while HubSpot misbehaves.

The sandbox fails a share of calls with 5xx, times out, loses answers after writing, storms
429s and goes fully down for longer than the breaker's timeout; one worker is killed with
SIGKILL and the Redis server is restarted empty. When it settles every submission must be
synced exactly once: one contact per e-mail, one deal and one note per submission, and the
burst limit never exceeded.

`python -m tests.integration.chaos` (`just chaos`) runs it with HubSpot's real 10 s window
and prints the figures; the test runs it scaled down.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from tests.integration.processes import (
    Process,
    Stack,
    free_port,
    scratch_database,
    stack,
    tables_bound_to,
    wait_until,
)

TOKEN = "pat-chaos-token"


@dataclass(frozen=True)
class ChaosConfig:
    submissions: int = 1000
    distinct_emails: int = 300
    burst_limit: int = 100
    burst_window_s: float = 1.0
    breaker_timeout_s: float = 3.0
    breaker_threshold: int = 40
    outage_s: float = 5.0
    storm_s: float = 2.0
    submit_seconds: float = 20.0
    settle_timeout_s: float = 300.0
    seed: int = 7

    def event_times(self) -> dict[str, float]:
        """When each disruption happens, in seconds after the first submission."""
        span = self.submit_seconds
        return {
            "kill_worker": 0.2 * span,
            "storm": 0.4 * span,
            "restart_redis": 0.6 * span,
            "outage": 0.75 * span,
        }


@dataclass
class ChaosReport:
    submissions: int = 0
    distinct_emails: int = 0
    settle_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    api_requests: int = 0
    max_in_window: int = 0
    burst_limit: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    submission_ids_on_deals: int = 0

    def lines(self) -> list[str]:
        return [
            f"submissions           {self.submissions} ({self.distinct_emails} distinct e-mails)",
            f"settled in            {self.settle_s:.1f} s",
            f"row statuses          {self.statuses}",
            f"sandbox holds         {self.counts}",
            f"faults served         {self.faults}",
            f"API calls             {self.api_requests} "
            f"({self.api_requests / max(self.submissions, 1):.2f} per submission)",
            f"max calls per window  {self.max_in_window} (limit {self.burst_limit})",
        ]


def _form(index: int, config: ChaosConfig) -> dict:
    person = index % config.distinct_emails
    return {
        "firstName": f"person{person}",
        "lastName": "Chaos",
        "email": f"person{person}@chaos.example.com",
        "company": f"Company {person}",
        "country": "GB",
        "serviceInterests": ["Data Preparation"],
        "projectDetails": f"submission {index}",
    }


class ChaosRun:
    def __init__(self, config: ChaosConfig, database_url: str, log_dir: Path) -> None:
        self.config = config
        self.database_url = database_url
        self.log_dir = log_dir
        self.redis_port, self.sandbox_port, self.web_port = free_port(), free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"

    def environment(self) -> dict[str, str]:
        config = self.config
        return os.environ | {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "HUBSPOT_API_KEY": TOKEN,
            "HUBSPOT_API_URL": self.sandbox_url,
            "SECRET_KEY": "chaos-secret-key-not-for-production",
            # Leave a fifth of the burst as headroom: on a 1 s window, scheduling jitter
            # between taking a slot and the request arriving is a large share of it.
            "HUBSPOT_BURST_LIMIT": str(int(config.burst_limit * 0.8)),
            "HUBSPOT_BURST_WINDOW": str(config.burst_window_s),
            "HUBSPOT_CB_TIMEOUT": str(config.breaker_timeout_s),
            "HUBSPOT_CB_THRESHOLD": str(config.breaker_threshold),
            "HUBSPOT_CB_WINDOW": str(config.burst_window_s),
            "HUBSPOT_TIMEOUT": "1",
            "HUBSPOT_RETRY_DELAY": "100",
            "HUBSPOT_MAX_RETRY_DELAY": str(int(config.burst_window_s * 2000)),
            "HUBSPOT_MAX_RETRIES": "30",
            "SYNC_LEASE": "10",
            "SWEEP_INTERVAL": "1",
            "SWEEP_GRACE": "3",
            "SUBMISSION_RATE_LIMIT": "0",
        }

    def run(self) -> ChaosReport:
        with stack(self.environment(), self.log_dir) as running:
            self._start(running)
            started = time.monotonic()
            self._submit_with_disruptions(running)
            self._wait_until_settled()
            report = self._report(time.monotonic() - started)
        return report

    def _redis(self, running: Stack) -> Process:
        process = running.start(
            "redis",
            "redis-server",
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        )
        wait_until(lambda: _redis_answers(self.redis_port), 10, "redis-server")
        return process

    def _start(self, running: Stack) -> None:
        config = self.config
        self.redis = self._redis(running)
        running.sandbox(
            self.sandbox_port,
            "--token",
            TOKEN,
            "--burst-limit",
            str(config.burst_limit),
            "--burst-window",
            str(config.burst_window_s),
        )
        running.run(sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all")
        running.run(sys.executable, "-m", "actors.portal_setup")
        running.web(self.web_port)
        self.workers = [running.worker("worker-a", threads=8), running.worker("worker-b", 8)]
        self._faults(
            {
                "error_rate": 0.2,
                "timeout_rate": 0.03,
                "timeout_s": 1.5,
                "lost_answer_rate": 0.05,
                "seed": config.seed,
            }
        )

    def _faults(self, options: dict) -> None:
        response = httpx.post(f"{self.sandbox_url}/_sandbox/faults", json=options, timeout=5)
        response.raise_for_status()

    def _submit_with_disruptions(self, running: Stack) -> None:
        config = self.config
        events = sorted(config.event_times().items(), key=lambda item: item[1])
        interval_s = config.submit_seconds / config.submissions
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futures = []
            for index in range(config.submissions):
                elapsed = time.monotonic() - started
                while events and events[0][1] <= elapsed:
                    self._disrupt(events.pop(0)[0], running)
                futures.append(pool.submit(self._post, index))
                time.sleep(max(0.0, started + (index + 1) * interval_s - time.monotonic()))
            answers = [future.result() for future in futures]
        for name, _ in events:
            self._disrupt(name, running)
        assert answers.count(202) == config.submissions, f"not all accepted: {set(answers)}"

    def _post(self, index: int) -> int:
        url = f"http://127.0.0.1:{self.web_port}/api/contact"
        return httpx.post(url, json=_form(index, self.config), timeout=30).status_code

    def _disrupt(self, event: str, running: Stack) -> None:
        config = self.config
        if event == "kill_worker":
            self.workers[0].kill()  # SIGKILL: no shutdown, no acks, leases left behind
            self.workers[0] = running.worker("worker-a2", threads=8)
        elif event == "storm":
            self._faults({"rate_limit_storm_s": config.storm_s})
        elif event == "restart_redis":
            self.redis.kill()  # every queued message is gone with it
            self.redis = self._redis(running)
        elif event == "outage":
            self._faults({"outage_s": config.outage_s})

    def _wait_until_settled(self) -> None:
        from storage.tables import Submission

        def settled() -> bool:
            return Submission.count().where(Submission.status == "synced").run_sync() == (
                self.config.submissions
            )

        wait_until(settled, self.config.settle_timeout_s, "every submission synced", 0.5)

    def _report(self, settle_s: float) -> ChaosReport:
        from storage.tables import Submission

        state = httpx.get(f"{self.sandbox_url}/_sandbox/state", timeout=10).json()
        faults = httpx.get(f"{self.sandbox_url}/_sandbox/faults", timeout=10).json()
        stats = httpx.get(
            f"{self.sandbox_url}/_sandbox/stats",
            timeout=10,
            params={"window_s": self.config.burst_window_s},
        ).json()
        rows = Submission.select(Submission.status).run_sync()
        statuses: dict[str, int] = {}
        for row in rows:
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        return ChaosReport(
            submissions=self.config.submissions,
            distinct_emails=min(self.config.distinct_emails, self.config.submissions),
            settle_s=settle_s,
            counts=state["counts"],
            faults=faults["counters"],
            api_requests=stats["accepted_requests"],
            max_in_window=stats["max_requests_in_window"],
            burst_limit=self.config.burst_limit,
            statuses=statuses,
            submission_ids_on_deals=len(
                {deal["properties"].get("submission_id") for deal in state["deals"]}
            ),
        )


def _redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
    except redis.ConnectionError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="burst window, seconds")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    config = ChaosConfig(
        submissions=args.submissions,
        burst_window_s=args.window,
        breaker_timeout_s=max(3.0, args.window),
        outage_s=max(5.0, args.window * 1.5),
        storm_s=max(2.0, args.window / 2),
        submit_seconds=max(20.0, args.window * 6),
        settle_timeout_s=3600,
    )
    log_dir = Path(tempfile.mkdtemp(prefix="chaos-"))
    print(f"chaos run: {config}\nlogs in {log_dir}", flush=True)
    with scratch_database(args.database_url) as url, tables_bound_to(url):
        report = ChaosRun(config, url, log_dir).run()
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
