"""The Redis circuit breaker through every transition, on a controllable clock."""

from __future__ import annotations

import threading

import pytest

from crm.breaker import BreakerOpen, CircuitBreaker
from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(any_redis, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(any_redis, threshold=5, window_s=60, open_timeout_s=120, clock=clock)


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def test_it_opens_after_five_failures_within_a_minute(breaker: CircuitBreaker) -> None:
    _fail(breaker, 4)
    assert breaker.state().state == "closed"

    _fail(breaker, 1)

    assert breaker.state().state == "open"
    assert breaker.allow_request().retry_after_s == pytest.approx(120)


def test_failures_older_than_the_window_do_not_count(breaker, clock: Clock) -> None:
    _fail(breaker, 4)
    clock.now += 61

    _fail(breaker, 4)

    assert breaker.state().state == "closed"


def test_open_refuses_until_the_timeout_then_lets_probes_through(breaker, clock: Clock) -> None:
    _fail(breaker, 5)
    clock.now += 119
    assert breaker.allow_request().retry_after_s == pytest.approx(1)

    clock.now += 1
    probes = [breaker.allow_request() for _ in range(4)]

    assert [p.retry_after_s == 0 for p in probes] == [True, True, True, False]
    assert probes[0].state == "half_open"


def test_three_successes_in_half_open_close_it(breaker, clock: Clock) -> None:
    _fail(breaker, 5)
    clock.now += 120
    for _ in range(3):
        breaker.allow_request()

    states = [breaker.record_success().state for _ in range(3)]

    assert states == ["half_open", "half_open", "closed"]
    assert breaker.allow_request().retry_after_s == 0


def test_a_failure_in_half_open_opens_it_again(breaker, clock: Clock) -> None:
    _fail(breaker, 5)
    clock.now += 120
    breaker.allow_request()

    breaker.record_failure()

    state = breaker.state()
    assert state.state == "open" and state.since == clock.now


def test_probes_that_never_report_back_do_not_wedge_half_open(breaker, clock: Clock) -> None:
    _fail(breaker, 5)
    clock.now += 120
    for _ in range(3):
        breaker.allow_request()  # their workers died: no success or failure ever comes
    clock.now += 120

    assert breaker.allow_request().retry_after_s == 0


def test_reset_closes_it(breaker: CircuitBreaker) -> None:
    _fail(breaker, 5)

    breaker.reset()

    assert breaker.state().state == "closed"
    assert breaker.allow_request().retry_after_s == 0


@pytest.mark.parametrize(
    ("kind", "counts"),
    [
        (ErrorKind.TRANSIENT, True),
        (ErrorKind.AUTHENTICATION, True),
        (ErrorKind.RATE_LIMITED, False),
        (ErrorKind.PERMANENT, False),
        (ErrorKind.CONFLICT, False),
    ],
)
def test_only_outages_and_auth_failures_count(breaker, kind: ErrorKind, counts: bool) -> None:
    record = CallRecord("op", 0, 1.0, error=HubSpotError(kind, "x"))
    for _ in range(5):
        breaker.after_call(record)

    assert (breaker.state().state == "open") is counts


def test_as_a_hook_it_refuses_calls_while_open(breaker: CircuitBreaker) -> None:
    _fail(breaker, 5)

    with pytest.raises(BreakerOpen) as caught:
        breaker.before_call("create_contact")

    assert caught.value.retry_after_s == pytest.approx(120)


def test_concurrent_failures_open_it_exactly_once(any_redis, clock: Clock) -> None:
    breakers = [CircuitBreaker(any_redis, threshold=5, clock=clock) for _ in range(8)]
    barrier = threading.Barrier(8)

    def fail(breaker: CircuitBreaker) -> None:
        barrier.wait()
        _fail(breaker, 5)

    threads = [threading.Thread(target=fail, args=(b,)) for b in breakers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    state = breakers[0].state()
    assert state.state == "open" and state.since == clock.now
