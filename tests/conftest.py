"""Shared fixtures: a real HubSpot sandbox over HTTP, a migrated database, the app.

The environment is fixed before any product module is imported, so the cached settings
and the broker see it: SQLite in a temporary folder, the embedded fakeredis broker, and
HubSpot pointed at a sandbox on a loopback port. Nothing here reaches the network.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="leadsync-tests-"))
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

for _name in ("HUBSPOT_API_KEY", "HUBSPOT_ACCESS_TOKEN", "REDIS_URL", "PICCOLO_CONF"):
    os.environ.pop(_name, None)
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite'}"
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ["UPLOAD_DIR"] = str(_TMP / "uploads")
os.environ["HUBSPOT_RETRY_DELAY"] = "10"
# Tests of the limits set their own; the rest must never wait for HubSpot's budget.
os.environ["HUBSPOT_BURST_LIMIT"] = "1000000"
# Every test client posts from one address: tests of the submission limit set their own.
os.environ["SUBMISSION_RATE_LIMIT"] = "0"

from crm.sandbox import SandboxServer  # noqa: E402
from tests.integration.processes import scratch_database, tables_bound_to  # noqa: E402

_SANDBOX = SandboxServer(search_lag_s=0.5, burst_limit=1_000_000)
_SANDBOX.start()
os.environ["HUBSPOT_API_URL"] = _SANDBOX.url


@pytest.fixture(scope="session")
def sandbox_server() -> SandboxServer:
    return _SANDBOX


@pytest.fixture
def sandbox(sandbox_server: SandboxServer):
    """The sandbox's state, reset and set up like `just hubspot-setup` leaves a portal."""
    from actors.broker import redis_client
    from actors.services import hubspot_client, property_map, rate_limiter
    from crm.setup import set_up_portal

    redis_client().flushall()  # breaker, limiter and queues start empty
    rate_limiter().assume_idle()
    state = sandbox_server.app.state.sandbox
    state.reset()
    set_up_portal(hubspot_client(), property_map())
    return state


@pytest.fixture
def faults(sandbox, sandbox_server):
    """The sandbox's fault plan, cleared after the test."""
    plan = sandbox_server.app.state.faults
    yield plan
    plan.clear()


def _run(coro):
    return asyncio.run(coro)


def _empty_tables() -> None:
    from piccolo.conf.apps import Finder
    from piccolo.utils.sync import run_sync

    from actors.services import call_audit

    # Calls an earlier test made and never wrote must not land among this test's rows.
    run_sync(call_audit().flush())
    for table in Finder().get_table_classes():
        table.delete(force=True).run_sync()


@pytest.fixture(scope="session")
def _migrated_sqlite() -> None:
    from storage.database import migrate

    _run(migrate())


@pytest.fixture
def db(_migrated_sqlite: None) -> Iterator[None]:
    """An empty, migrated SQLite database (the embedded default)."""

    _empty_tables()
    yield


@pytest.fixture(scope="session")
def _migrated_postgres() -> Iterator[str]:
    """A database of this test run on the PostgreSQL server, migrated as `just migrate`
    does (in its own process). Its own, so concurrent runs never empty each other's tables."""
    try:
        database = scratch_database(POSTGRES_URL)
        url = database.__enter__()
    except OSError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    command = [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"]
    env = os.environ | {"DATABASE_URL": url}
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
    yield url
    database.__exit__(None, None, None)


@pytest.fixture
def postgres(_migrated_postgres: str) -> Iterator[str]:
    """A PostgreSQL database of this run, migrated and emptied, the tables pointed at it."""
    with tables_bound_to(_migrated_postgres):
        _empty_tables()
        yield _migrated_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, _migrated_sqlite: None) -> Iterator[str]:
    """Run the test once on SQLite and once on the PostgreSQL server."""

    if request.param == "postgres":
        request.getfixturevalue("postgres")
    else:
        _empty_tables()
    yield request.param


@pytest.fixture
def client(db: None, sandbox) -> Iterator:
    """The app with its embedded worker running, as `just run` serves it."""
    from starlette.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture
def real_redis_url() -> Iterator[str]:
    """An emptied database of the Redis server on 127.0.0.1 (required in CI)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis server on 127.0.0.1:6379")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(params=["fakeredis", "redis"])
def any_redis(request: pytest.FixtureRequest) -> Iterator:
    """A clean Redis: in-process fakeredis, then the real server."""
    import fakeredis
    import redis

    if request.param == "fakeredis":
        yield fakeredis.FakeRedis()
        return
    client = redis.Redis.from_url(request.getfixturevalue("real_redis_url"))
    yield client
    client.close()
