"""The shared rate limiter: calls wait their turn inside HubSpot's budget."""

from __future__ import annotations

import pytest

from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError
from crm.ratelimit import RateLimiter


class Clock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _limiter(any_redis, clock: Clock, **kwargs) -> RateLimiter:
    options = {"burst_limit": 3, "window_s": 10.0, "clock": clock, "sleep": clock.sleep} | kwargs
    limiter = RateLimiter(any_redis, **options)
    limiter.assume_idle()
    return limiter


def test_a_redis_that_lost_its_count_waits_one_window_first(any_redis, clock: Clock) -> None:
    # Redis restarted empty: the calls of the last window are forgotten, not absent.
    limiter = RateLimiter(any_redis, burst_limit=3, window_s=10.0, clock=clock, sleep=clock.sleep)

    limiter.acquire()
    limiter.acquire()

    assert clock.slept == [pytest.approx(10.0)]


def test_calls_beyond_the_burst_wait_for_the_window_to_roll(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock)

    for _ in range(4):
        limiter.acquire()

    assert clock.slept == [pytest.approx(10.0)]


def test_limiters_in_different_processes_share_one_budget(any_redis, clock: Clock) -> None:
    first, second = _limiter(any_redis, clock), _limiter(any_redis, clock)

    first.acquire()
    first.acquire()
    second.acquire()
    second.acquire()

    assert len(clock.slept) == 1


def test_a_spent_daily_quota_raises_with_the_time_to_reset(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=100, daily_limit=2)
    limiter.acquire()
    limiter.acquire()

    with pytest.raises(HubSpotError) as caught:
        limiter.acquire()

    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert 0 < caught.value.retry_after_s <= 86_400
    assert limiter.used_today() == 2


def test_waiting_longer_than_allowed_hands_the_job_back(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=1, max_wait_s=5)
    limiter.acquire()

    with pytest.raises(HubSpotError) as caught:
        limiter.acquire()

    assert caught.value.retry_after_s == pytest.approx(10.0)
    assert clock.slept == []


def test_a_429_pauses_every_caller_for_hubspots_interval(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=100)
    error = HubSpotError(ErrorKind.RATE_LIMITED, "ten_secondly_rolling", retry_after_s=10)

    limiter.after_call(CallRecord("create_contact", 429, 5.0, error=error))
    _limiter(any_redis, clock, burst_limit=100).acquire()

    assert clock.slept == [pytest.approx(10.0)]


@pytest.mark.parametrize(("remaining", "pause_s"), [("5", 8.0), ("0", 10.0)])
def test_low_remaining_in_hubspots_headers_slows_calls_down(
    any_redis, clock: Clock, remaining: str, pause_s: float
) -> None:
    # Our own count may be gone (Redis restarted empty); HubSpot's headers still tell.
    limiter = _limiter(any_redis, clock, burst_limit=100)
    headers = {
        "x-hubspot-ratelimit-remaining": remaining,
        "x-hubspot-ratelimit-max": "100",
        "x-hubspot-ratelimit-interval-milliseconds": "10000",
    }

    limiter.after_call(CallRecord("create_contact", 201, 5.0, headers=headers))
    limiter.acquire()

    assert clock.slept == [pytest.approx(pause_s)]


def test_plenty_remaining_does_not_slow_anything(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=100)
    headers = {
        "x-hubspot-ratelimit-remaining": "90",
        "x-hubspot-ratelimit-max": "100",
        "x-hubspot-ratelimit-interval-milliseconds": "10000",
    }

    limiter.after_call(CallRecord("create_contact", 201, 5.0, headers=headers))
    limiter.acquire()

    assert clock.slept == []
