"""The chaos run: many submissions through the real processes while HubSpot misbehaves.

The sandbox fails a share of calls with 5xx, times out, loses answers after writing (batch
calls too), storms 429s and goes fully down for longer than the breaker's timeout; one
worker is killed with SIGKILL in the middle of its batches and the Redis server is
restarted empty. When it settles every submission must be synced exactly once: one contact
per e-mail, one deal and one note per submission, and the burst limit never exceeded.

`python -m tests.integration.chaos` (`just chaos`) runs 10,000 submissions at HubSpot's real
10 s window and the spec's breaker (5 failures and half the calls in 60 s, open 120 s) and
prints the figures; the test runs it scaled down in time, with the same rules.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import time
from dataclasses import dataclass, field

from tests.integration.processes import Stack, scratch_database, stack, tables_bound_to, wait_until
from tests.integration.product import Product, form, log_dir, row_statuses


@dataclass(frozen=True)
class ChaosConfig:
    submissions: int = 1000
    distinct_emails: int = 300
    burst_limit: int = 100
    burst_window_s: float = 1.0
    #: The breaker: opens on `breaker_threshold` failures that are half the calls of
    #: `breaker_window_s`, stays open `breaker_timeout_s`.
    breaker_threshold: int = 5
    breaker_window_s: float = 6.0
    breaker_timeout_s: float = 3.0
    outage_s: float = 5.0
    storm_s: float = 2.0
    submit_seconds: float = 20.0
    settle_timeout_s: float = 300.0
    seed: int = 7

    @classmethod
    def at_window(cls, submissions: int, window_s: float) -> ChaosConfig:
        """The run at a HubSpot burst window of `window_s` (10 s: the real one), every
        other time scaled with it: breaker 60 s window and 120 s open at 10 s."""
        scale = window_s / 10
        return cls(
            submissions=submissions,
            distinct_emails=max(1, int(submissions * 0.3)),
            burst_window_s=window_s,
            breaker_window_s=60 * scale,
            breaker_timeout_s=120 * scale,
            outage_s=150 * scale,  # longer than the breaker stays open
            storm_s=20 * scale,
            submit_seconds=max(20.0, submissions / 100),
            settle_timeout_s=3600,
        )

    def event_times(self) -> dict[str, float]:
        """When each disruption happens, in seconds after the first submission."""
        span = self.submit_seconds
        return {
            "kill_worker": 0.2 * span,
            "storm": 0.4 * span,
            "restart_redis": 0.6 * span,
            "outage": 0.75 * span,
        }

    def settings(self) -> dict[str, str]:
        """The product's settings for the run, its times scaled like HubSpot's window."""
        scale = self.burst_window_s / 10
        return {
            # On a 1 s window, scheduling jitter between taking a slot and the request
            # arriving is a large share of it: leave a fifth of the burst as headroom.
            "HUBSPOT_BURST_LIMIT": str(int(self.burst_limit * (0.8 if scale < 1 else 1))),
            "HUBSPOT_BURST_WINDOW": str(self.burst_window_s),
            "HUBSPOT_CB_THRESHOLD": str(self.breaker_threshold),
            "HUBSPOT_CB_WINDOW": str(self.breaker_window_s),
            "HUBSPOT_CB_TIMEOUT": str(self.breaker_timeout_s),
            "HUBSPOT_TIMEOUT": str(max(1.0, 10 * scale)),
            "HUBSPOT_RETRY_DELAY": str(int(max(100, 1000 * scale))),
            "HUBSPOT_MAX_RETRY_DELAY": str(int(60_000 * scale)),
            "HUBSPOT_MAX_RETRIES": "30",
            "SYNC_LEASE": str(max(10.0, 300 * scale)),
            "SWEEP_INTERVAL": str(max(1.0, 30 * scale)),
            "SWEEP_GRACE": str(max(3.0, 90 * scale)),
        }


@dataclass
class ChaosReport:
    submissions: int = 0
    distinct_emails: int = 0
    settle_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    api_requests: int = 0
    rate_limited: int = 0
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
            f"({self.api_requests / max(self.submissions, 1):.3f} per submission)",
            f"429s (own limiter)    {self.rate_limited}",
            f"max calls per window  {self.max_in_window} (limit {self.burst_limit})",
        ]


class ChaosRun:
    def __init__(self, config: ChaosConfig, database_url: str, logs: os.PathLike) -> None:
        self.config = config
        self.product = Product(database_url, config.settings())
        self.logs = logs

    def run(self) -> ChaosReport:
        config = self.config
        with stack(self.product.env, self.logs) as running:
            self.product.start(
                running, burst_limit=config.burst_limit, burst_window_s=config.burst_window_s
            )
            self.product.faults(
                {
                    "error_rate": 0.2,
                    "timeout_rate": 0.03,
                    "timeout_s": float(self.product.env["HUBSPOT_TIMEOUT"]) * 1.5,
                    "lost_answer_rate": 0.05,
                    "seed": config.seed,
                }
            )
            started = time.monotonic()
            self._submit_with_disruptions(running)
            wait_until(self._settled, config.settle_timeout_s, "every submission synced", 0.5)
            return self._report(time.monotonic() - started)

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
                email = f"person{index % config.distinct_emails}@chaos.example.com"
                futures.append(pool.submit(self.product.post, *form(index, email)))
                time.sleep(max(0.0, started + (index + 1) * interval_s - time.monotonic()))
            answers = [future.result() for future in futures]
        for name, _ in events:
            self._disrupt(name, running)
        assert answers.count(202) == config.submissions, f"not all accepted: {set(answers)}"

    def _disrupt(self, event: str, running: Stack) -> None:
        config = self.config
        if event == "kill_worker":
            self.product.kill_worker(running)
        elif event == "storm":
            self.product.faults({"rate_limit_storm_s": config.storm_s})
        elif event == "restart_redis":
            self.product.restart_redis(running)
        elif event == "outage":
            self.product.faults({"outage_s": config.outage_s})

    def _settled(self) -> bool:
        return row_statuses().get("synced", 0) == self.config.submissions

    def _report(self, settle_s: float) -> ChaosReport:
        state = self.product.sandbox("state")
        stats = self.product.sandbox("stats", window_s=self.config.burst_window_s)
        return ChaosReport(
            submissions=self.config.submissions,
            distinct_emails=min(self.config.distinct_emails, self.config.submissions),
            settle_s=settle_s,
            counts=state["counts"],
            faults=self.product.sandbox("faults")["counters"],
            api_requests=stats["accepted_requests"],
            rate_limited=stats["rate_limited"],
            max_in_window=stats["max_requests_in_window"],
            burst_limit=self.config.burst_limit,
            statuses=row_statuses(),
            submission_ids_on_deals=len(
                {deal["properties"].get("submission_id") for deal in state["deals"]}
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=10.0, help="burst window, seconds")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    config = ChaosConfig.at_window(args.submissions, args.window)
    logs = log_dir("chaos-")
    print(f"chaos run: {config}\nlogs in {logs}", flush=True)
    with scratch_database(args.database_url) as url, tables_bound_to(url):
        report = ChaosRun(config, url, logs).run()
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
