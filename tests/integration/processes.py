"""Start the product the way production runs it: separate processes on loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def tables_bound_to(url: str) -> Iterator[None]:
    """Point the tables at another database for the duration, then back."""
    from piccolo.conf.apps import Finder

    from storage.database import bind_tables, engine_for

    tables = Finder().get_table_classes()
    original = {table: table._meta.db for table in tables}
    bind_tables(engine_for(url))
    try:
        yield
    finally:
        for table, engine in original.items():
            table._meta.db = engine


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of its own, dropped afterwards.

    Long runs must not share `test` with other suites that empty its tables.
    """
    import asyncio
    import uuid

    import asyncpg

    name = f"leadsync_scratch_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def wait_for_http(url: str, timeout_s: float = 20) -> None:
    def answers() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout_s, url)


class Process:
    """A child process whose output goes to a log file kept for failure reports."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            env=dict(env),
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace: a worker holding delayed messages may
        otherwise wait for them for minutes."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


class Stack:
    """Sandbox, web and workers as separate processes, sharing one environment."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.processes: list[Process] = []

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Process:
        process = Process(name, list(args), self.env | dict(env or {}), self.log_dir)
        self.processes.append(process)
        return process

    def run(self, *args: str) -> None:
        subprocess.run(list(args), env=self.env, cwd=ROOT, check=True, capture_output=True)

    def redis(self, port: int) -> Process:
        """A Redis server of its own that keeps nothing on disk: killing it loses all."""
        process = self.start(
            "redis",
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        )
        wait_until(lambda: _redis_answers(port), 10, "redis-server")
        return process

    def sandbox(self, port: int, *extra: str) -> Process:
        process = self.start(
            "sandbox", str(BIN / "python"), "-m", "crm.sandbox", "--port", str(port), *extra
        )
        wait_for_http(f"http://127.0.0.1:{port}/_sandbox/state")
        return process

    def web(self, port: int) -> Process:
        process = self.start(
            "web",
            str(BIN / "uvicorn"),
            "web.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            env={"PUBLIC_URL": f"http://127.0.0.1:{port}"},
        )
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        return process

    def worker(self, name: str = "worker", threads: int = 4, *modules: str) -> Process:
        """`just worker` with one process; `modules` are imported after `actors.worker`."""
        # Each worker's own Prometheus exporter port, or the second finds it taken.
        return self.start(
            name,
            str(BIN / "dramatiq"),
            "actors.worker",
            *modules,
            "-p",
            "1",
            "-t",
            str(threads),
            env={"dramatiq_prom_port": str(free_port())},
        )

    def logs(self) -> str:
        return "\n\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
    except redis.ConnectionError:
        return False


@contextlib.contextmanager
def stack(env: Mapping[str, str], log_dir: Path) -> Iterator[Stack]:
    running = Stack(env, log_dir)
    try:
        yield running
    except BaseException:
        print(running.logs())
        raise
    finally:
        running.stop()
