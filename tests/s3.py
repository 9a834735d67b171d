"""A real S3-compatible server for the tests: moto's server mode on a loopback port.

One server per test session, started on first use. Each test gets its own bucket, with
the settings pointed at it the way S3_BUCKET and S3_ENDPOINT_URL would.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import uuid
from collections.abc import Iterator

import pytest

from settings import get_settings
from storage.objects import S3ObjectStore, object_store


@functools.cache
def moto_endpoint() -> str:
    from moto.server import ThreadedMotoServer

    # moto accepts any credentials; boto3 just needs some (never real ones here).
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test-access-key")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


@contextlib.contextmanager
def s3_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3ObjectStore]:
    """The settings pointed at a fresh bucket on the moto server, for the block."""
    settings = get_settings()
    monkeypatch.setattr(settings, "s3_bucket", f"uploads-{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(settings, "s3_endpoint_url", moto_endpoint())
    monkeypatch.setattr(settings, "s3_region", "us-east-1")
    object_store.cache_clear()
    try:
        store = object_store()
        assert isinstance(store, S3ObjectStore)
        store.client.create_bucket(Bucket=store.bucket)
        yield store
    finally:
        object_store.cache_clear()  # the next test gets the store its settings name
