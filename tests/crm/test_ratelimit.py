"""The shared rate limiter: calls wait their turn inside HubSpot's budget, pauses only
ever lengthen, and batches take one of a few slots every process shares."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from crm.client import CallRecord
from crm.errors import ErrorKind, HubSpotError
from crm.ratelimit import WINDOW_MARGIN_S, RateLimiter
from tests.crm.clock import Clock


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

    assert clock.slept == [pytest.approx(10.0 + WINDOW_MARGIN_S)]


def test_calls_beyond_the_burst_wait_for_the_window_to_roll(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock)

    for _ in range(4):
        limiter.acquire()

    assert clock.slept == [pytest.approx(10.0 + WINDOW_MARGIN_S)]


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
    assert caught.value.retry_after_s == pytest.approx(86_400 - clock.now % 86_400)
    assert limiter.used_today() == 2


def test_the_daily_count_starts_again_at_midnight_utc(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=100)
    limiter.acquire()
    clock.advance(86_400 - clock.now % 86_400)

    assert limiter.used_today() == 0
    limiter.acquire()
    assert limiter.used_today() == 1


def test_waiting_longer_than_allowed_hands_the_job_back(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=1, max_wait_s=5)
    limiter.acquire()

    with pytest.raises(HubSpotError) as caught:
        limiter.acquire()

    assert caught.value.retry_after_s == pytest.approx(10.0 + WINDOW_MARGIN_S)
    assert clock.slept == []


def test_a_429_pauses_every_caller_for_hubspots_interval(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=100)
    error = HubSpotError(ErrorKind.RATE_LIMITED, "ten_secondly_rolling", retry_after_s=10)

    limiter.after_call(CallRecord("create_contact", 429, 5.0, error=error))
    _limiter(any_redis, clock, burst_limit=100).acquire()

    assert clock.slept == [pytest.approx(10.0)]


def test_a_shorter_pause_never_shortens_a_longer_one(any_redis, clock: Clock) -> None:
    limiter, other = _limiter(any_redis, clock), _limiter(any_redis, clock)
    limiter.pause(30)

    other.pause(5)
    limiter.acquire()

    assert clock.slept == [pytest.approx(30.0)]


def test_pauses_asked_at_once_end_with_the_longest(any_redis, clock: Clock) -> None:
    limiters = [_limiter(any_redis, clock) for _ in range(8)]
    barrier = threading.Barrier(len(limiters))

    def pause(limiter: RateLimiter, seconds: float) -> None:
        barrier.wait()
        for _ in range(20):
            limiter.pause(seconds)

    threads = [
        threading.Thread(target=pause, args=(limiter, 10.0 + index))
        for index, limiter in enumerate(limiters)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limiters[0].acquire()

    assert clock.slept == [pytest.approx(17.0)]


def _answered(limiter: RateLimiter, remaining: int, maximum: int = 100) -> None:
    headers = {
        "x-hubspot-ratelimit-remaining": str(remaining),
        "x-hubspot-ratelimit-max": str(maximum),
        "x-hubspot-ratelimit-interval-milliseconds": "10000",
    }
    limiter.after_call(CallRecord("upsert_contacts", 200, 5.0, headers=headers))


def test_calls_hubspot_counts_and_we_do_not_take_slots_until_they_age_out(
    any_redis, clock: Clock
) -> None:
    # Our own count may be gone (Redis restarted empty), or another app spent the budget:
    # HubSpot's headers say 95 of its 100 are used.
    limiter = _limiter(any_redis, clock, burst_limit=100)
    _answered(limiter, remaining=5)

    for _ in range(6):
        limiter.acquire()

    assert clock.slept == [pytest.approx(10.0 + WINDOW_MARGIN_S)]


def test_a_count_no_fuller_than_ours_changes_nothing(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=100)
    for _ in range(50):
        limiter.acquire()
    _answered(limiter, remaining=60)  # HubSpot counts 40 of our 50: some are on their way

    for _ in range(50):
        limiter.acquire()

    assert clock.slept == []


@pytest.mark.parametrize(
    ("burst_limit", "window_s", "slots"), [(100, 10.0, 4), (150, 10.0, 6), (10, 10.0, 1)]
)
def test_the_budget_decides_how_many_batches_run_at_once(
    any_redis, burst_limit: int, window_s: float, slots: int
) -> None:
    limiter = RateLimiter(any_redis, burst_limit=burst_limit, window_s=window_s)

    assert limiter.batches_at_once == slots


def test_batch_slots_are_shared_and_refused_at_once_when_all_are_taken(
    any_redis, clock: Clock
) -> None:
    first, second = (_limiter(any_redis, clock, burst_limit=50) for _ in range(2))
    assert first.batches_at_once == 2

    with first.batch_slot(60) as one, second.batch_slot(60) as two:
        with first.batch_slot(60) as three:
            assert one is not None and two is not None and three is None
        with second.batch_slot(60) as again:
            assert again is None

    assert clock.slept == []


def test_leaving_the_block_frees_the_slot(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=10)  # one slot

    with limiter.batch_slot(60) as held:
        assert held is not None
    with limiter.batch_slot(60) as next_one:
        assert next_one is not None


def test_a_dead_holders_slot_is_free_after_its_hold(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=10)  # one slot
    dead = limiter.batch_slot(60)
    assert dead.__enter__() is not None  # its process dies inside the block: no exit ever

    clock.advance(59)
    with limiter.batch_slot(60) as early:
        assert early is None
    clock.advance(1)
    with limiter.batch_slot(60) as later:
        assert later is not None


def test_renewing_keeps_the_slot_past_its_first_hold(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=10)  # one slot

    with limiter.batch_slot(60) as held:
        clock.advance(50)
        assert held.renew()
        clock.advance(50)
        with limiter.batch_slot(60) as other:
            assert other is None
        clock.advance(60)
        assert not held.renew()  # lapsed: another batch may have its slot


def test_a_slot_is_renewed_at_each_call_its_thread_asks_for(any_redis, clock: Clock) -> None:
    limiter = _limiter(any_redis, clock, burst_limit=10)  # one slot
    other = _limiter(any_redis, clock, burst_limit=10)

    with limiter.batch_slot(15) as held:
        for _ in range(4):  # a batch calling HubSpot every 10 s stays alive for 40 s
            clock.advance(10)
            limiter.acquire()
        with other.batch_slot(15) as taken:
            assert held is not None and taken is None
        clock.advance(16)  # its thread stopped calling (the worker died): the slot frees
        with other.batch_slot(15) as free:
            assert free is not None


def test_redis_time_decides_whatever_the_callers_clock_says(
    real_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(real_redis_url)
    monkeypatch.setattr(time, "time", lambda: 86_400.0 * 3)  # the callers' clock: 1970
    limiter = RateLimiter(client, burst_limit=2, window_s=10.0, max_wait_s=1)
    limiter.assume_idle()
    limiter.acquire()
    limiter.acquire()

    with pytest.raises(HubSpotError) as caught:
        limiter.acquire()
    with limiter.batch_slot(30) as slot:
        assert slot is not None and slot.renew()

    assert caught.value.retry_after_s == pytest.approx(10.0, abs=2)
    assert limiter.used_today() == 2
    [(_, until_s)] = client.zrange("leadsync:ratelimit:window", 0, 0, withscores=True)
    seconds, _ = client.time()
    assert until_s == pytest.approx(seconds, abs=5)
    client.close()
