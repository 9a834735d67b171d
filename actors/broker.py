"""The Dramatiq broker and the Redis that holds shared state (breaker, rate limiter).

With REDIS_URL set both are that Redis; without it (the embedded default) both are one
in-process fakeredis server, and the web process runs the worker itself.
"""

from __future__ import annotations

import functools

import dramatiq
import fakeredis
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from settings import get_settings

#: Seconds to wait for Redis to accept a connection: an outage fails fast, never hangs.
CONNECT_TIMEOUT_S = 5


@functools.cache
def redis_client() -> redis.Redis:
    url = get_settings().redis_url
    if url is None:
        return fakeredis.FakeRedis(server=_embedded_server())
    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)


@functools.cache
def _embedded_server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def build_broker() -> RedisBroker:
    url = get_settings().redis_url
    if url is None:
        broker = RedisBroker(client=fakeredis.FakeRedis(server=_embedded_server()))
    else:
        broker = RedisBroker(url=url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    broker.add_middleware(CurrentMessage())
    return broker


def stop_worker(worker: dramatiq.Worker, timeout_ms: int) -> None:
    """Stop `worker` and unhook it: Dramatiq leaves a stopped worker's consumer hook on the
    shared broker, and a later worker of the process (tests, a restarted lifespan) must not
    feed it queues."""
    worker.stop(timeout=timeout_ms)
    worker.broker.middleware[:] = [
        m for m in worker.broker.middleware if getattr(m, "worker", None) is not worker
    ]


broker = build_broker()
dramatiq.set_broker(broker)
