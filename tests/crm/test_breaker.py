"""The Redis circuit breaker: judged by the share of calls that fail, through every
transition, on a clock the tests move and on Redis's own."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from crm.breaker import RECENT_CALLS, BreakerOpen, CircuitBreaker
from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError
from tests.crm.clock import Clock

#: HubSpot's burst budget at full speed (100 calls per 10 s), as calls per second.
FULL_SPEED_PER_S = 10


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(any_redis, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(any_redis, threshold=5, window_s=60, open_timeout_s=120, clock=clock)


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def _open(breaker: CircuitBreaker) -> None:
    _fail(breaker, 5)
    assert breaker.state().state == "open"


def _calls_at_full_speed(
    breaker: CircuitBreaker, clock: Clock, seconds: float, failing_share: float
) -> set[str]:
    """Calls for `seconds` at HubSpot's full speed, `failing_share` of them failures spread
    evenly; every state the breaker was in along the way."""
    states, failed = set(), 0.0
    for number in range(1, int(seconds * FULL_SPEED_PER_S) + 1):
        clock.advance(1 / FULL_SPEED_PER_S)
        if number * failing_share >= failed + 1:
            failed += 1
            states.add(breaker.record_failure().state)
        else:
            states.add(breaker.record_success().state)
    return states


def test_five_failures_in_a_quiet_minute_open_it(breaker, clock: Clock) -> None:
    for _ in range(5):
        breaker.record_success()
        clock.advance(5)
    _fail(breaker, 4)
    assert breaker.state().state == "closed"

    _fail(breaker, 1)

    assert breaker.state().state == "open"
    assert breaker.allow_request().retry_after_s == pytest.approx(120)


def test_failures_older_than_the_window_do_not_count(breaker, clock: Clock) -> None:
    _fail(breaker, 4)
    clock.advance(61)

    _fail(breaker, 4)

    assert breaker.state().state == "closed"


@pytest.mark.parametrize("failing_share", [0.02, 0.15])
def test_a_few_per_cent_of_failures_at_full_speed_do_not_open_it(
    breaker, clock: Clock, failing_share: float
) -> None:
    states = _calls_at_full_speed(breaker, clock, 90, failing_share)

    state = breaker.state()
    assert states == {"closed"}
    assert state.failures >= 5  # enough to open it when failures alone counted
    assert state.failure_share == pytest.approx(failing_share, abs=0.01)


def test_an_outage_after_a_busy_calm_minute_opens_it_within_twenty_calls(
    breaker, clock: Clock
) -> None:
    _calls_at_full_speed(breaker, clock, 60, failing_share=0)

    opened_at = next(number for number in range(1, 60) if breaker.record_failure().state == "open")

    # Half the latest RECENT_CALLS: two seconds at full speed, whatever came before.
    assert opened_at == RECENT_CALLS // 2
    assert breaker.state().calls == 600 + opened_at


def test_an_outage_amid_scattered_failures_opens_it_within_seconds(breaker, clock: Clock) -> None:
    # A busy minute with a few failures: its 600 calls must not hide the outage.
    _calls_at_full_speed(breaker, clock, 60, failing_share=0.02)
    started = clock.now

    while breaker.record_failure().state == "closed":
        clock.advance(1 / FULL_SPEED_PER_S)

    assert clock.now - started < 3
    assert breaker.state().calls > 600


def test_the_state_tells_the_windows_calls_and_the_share_that_failed(
    breaker: CircuitBreaker,
) -> None:
    for _ in range(6):
        breaker.record_success()
    _fail(breaker, 2)
    breaker.record_success()

    state = breaker.state()

    assert (state.state, state.calls, state.failures) == ("closed", 9, 2)
    assert state.failure_share == pytest.approx(2 / 9)
    assert state.since is None  # it never moved


def test_an_empty_window_has_no_share(breaker, clock: Clock) -> None:
    breaker.record_success()
    clock.advance(61)

    assert breaker.state().failure_share is None


def test_open_refuses_until_the_timeout_then_lets_probes_through(breaker, clock: Clock) -> None:
    _open(breaker)
    clock.advance(119)
    assert breaker.allow_request().retry_after_s == pytest.approx(1)
    assert breaker.remaining_open_s() == pytest.approx(1)

    clock.advance(1)
    probes = [breaker.allow_request() for _ in range(4)]

    assert [p.retry_after_s == 0 for p in probes] == [True, True, True, False]
    assert probes[0].state == "half_open"


def test_three_successes_in_half_open_close_it(breaker, clock: Clock) -> None:
    _open(breaker)
    clock.advance(120)
    for _ in range(3):
        breaker.allow_request()

    states = [breaker.record_success().state for _ in range(3)]

    assert states == ["half_open", "half_open", "closed"]
    assert breaker.allow_request().retry_after_s == 0
    assert breaker.state().calls == 0  # closed afresh: the outage's calls are forgotten


def test_a_failure_in_half_open_opens_it_again(breaker, clock: Clock) -> None:
    _open(breaker)
    clock.advance(120)
    breaker.allow_request()

    breaker.record_failure()

    state = breaker.state()
    assert state.state == "open" and state.since == clock.now


def test_probes_that_never_report_back_do_not_wedge_half_open(breaker, clock: Clock) -> None:
    _open(breaker)
    clock.advance(120)
    for _ in range(3):
        breaker.allow_request()  # their workers died: no success or failure ever comes
    clock.advance(120)

    assert breaker.allow_request().retry_after_s == 0


def test_reset_closes_it(breaker: CircuitBreaker) -> None:
    _open(breaker)

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

    state = breaker.state()
    assert (state.state == "open") is counts
    assert state.calls == 5 and state.failures == (5 if counts else 0)


def test_as_a_hook_it_refuses_calls_while_open(breaker: CircuitBreaker) -> None:
    _open(breaker)

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


def test_redis_time_decides_whatever_the_callers_clock_says(
    real_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(real_redis_url)
    seconds, micros = client.time()
    monkeypatch.setattr(time, "time", lambda: seconds + micros / 1e6 + 86_400 * 3)  # far off
    breaker = CircuitBreaker(client, threshold=5, window_s=60, open_timeout_s=120)

    _fail(breaker, 5)

    state = breaker.state()
    assert state.state == "open"
    assert state.since == pytest.approx(seconds + micros / 1e6, abs=5)
    assert breaker.remaining_open_s() == pytest.approx(120, abs=5)
    client.close()
